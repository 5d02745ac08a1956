"""Toolkit settings that come from the environment or the checkout's `.env`.

The environment wins over `.env`, so CI can set everything with variables while a workstation
keeps its choices in the git-ignored `.env` written by `invoke setup`.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataplatform import dotenv

REGISTRY = "DATAPLATFORM_REGISTRY"
STRICT = "DATAPLATFORM_STRICT"
# Where managed tool environments live when not in the checkout's `.dataplatform/envs/`:
# several clones (or a test suite's throwaway checkouts) can share one set.
ENVS_DIR = "DATAPLATFORM_ENVS_DIR"
_TRUE = {"1", "true", "yes", "on"}


def read_env_file(path: Path) -> dict[str, str]:
    """The values of a dotenv file; malformed lines are skipped here (`invoke doctor` reports
    them)."""
    return dotenv.read(path).values


def setting(name: str, project_root: Path | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None and project_root is not None:
        value = read_env_file(project_root / ".env").get(name)
    return value or None


def registry(project_root: Path | None = None) -> str | None:
    """The shared image registry prefix, e.g. `127.0.0.1:5000/team`, without a trailing slash."""
    value = setting(REGISTRY, project_root)
    return value.rstrip("/") if value else None


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def strict(project_root: Path | None = None, override: str | None = None) -> bool:
    """Whether a missing engine is an error: under CI, with DATAPLATFORM_STRICT, or `strict=1`."""
    if override is not None:
        return is_true(override)
    return is_true(os.environ.get("CI")) or is_true(setting(STRICT, project_root))


def envs_dir(project_root: Path, default: Path) -> Path:
    value = setting(ENVS_DIR, project_root)
    return Path(value).expanduser().resolve() if value else default
