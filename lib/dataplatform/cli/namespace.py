"""The invoke namespace `tasks.py` exposes: one collection per area of the toolkit."""

from __future__ import annotations

from invoke import Collection

from dataplatform.cli import cache


def build_namespace() -> Collection:
    root = Collection()
    root.add_collection(Collection("cache", cache.status, cache.clean))
    return root
