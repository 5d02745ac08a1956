"""Which of the engine's volumes are this namespace's, and which of them `down` removes.

A volume is ours when it carries `labels.PROJECT=<namespace>`. `down` keeps the persistent
ones unless asked (`--volumes --yes`). Persistence is what services.yaml declares now — the
top-level volume's `persistent`, or the owning service's for a service's own volume — so a
volume made before `persistent: true` was added is kept too; only for a volume services.yaml
no longer declares (or when the file does not load) does the label it was created with decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dataplatform import labels


def is_persistent(volume_labels: Mapping[str, str], declared: Mapping[str, Any] | None,
                  services: Mapping[str, Any] | None) -> bool:
    """`declared`: the manifest's top-level volumes by key; `services`: its services (each
    with `.persistent`); None for either when services.yaml does not load."""
    key = volume_labels.get(labels.VOLUME)
    if key is not None and declared is not None and key in declared:
        return bool(declared[key].persistent)
    owner = volume_labels.get(labels.SERVICE)
    if key is None and owner is not None and services is not None and owner in services:
        return bool(services[owner].persistent)
    return volume_labels.get(labels.PERSISTENT) == "true"


def ours(listed: Iterable[Mapping[str, Any]], namespace: str) -> list[Mapping[str, Any]]:
    """The entries of an engine volume list (`GET /volumes` → `Volumes`) labelled ours."""
    return [v for v in listed if (v.get("Labels") or {}).get(labels.PROJECT) == namespace]


def to_remove(listed: Iterable[Mapping[str, Any]], namespace: str, everything: bool,
              declared: Mapping[str, Any] | None = None,
              services: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the volumes `down` removes: all of ours with `everything`, else those that
    are not persistent."""
    return [v["Name"] for v in ours(listed, namespace)
            if everything or not is_persistent(v.get("Labels") or {}, declared, services)]
