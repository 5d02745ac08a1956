"""What a test needs from the machine: `require` fails under CI (`CI=true`) and skips
elsewhere, with the reason, when a real engine, tool or package is missing. Support functions
raise `Missing` instead (a benchmark exits with it); `required()` turns it into `require`."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from collections.abc import Iterator
from types import ModuleType

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class Missing(RuntimeError):
    """A tool, binary or package the caller needs is not installed; the message says which and
    how to install it."""


def require(condition: bool, reason: str) -> None:
    """Fail under CI, skip elsewhere, when a real engine or tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing engine fails instead of skipping)")
    pytest.skip(reason)


@contextlib.contextmanager
def required() -> Iterator[None]:
    """Run support code whose `Missing` must fail the test under CI and skip it elsewhere."""
    try:
        yield
    except Missing as missing:
        require(False, str(missing))


def require_dbt_extra() -> ModuleType:
    """For a whole test module that runs dbt: the `duckdb` module. When the dbt extra is not
    installed the module fails under CI and is skipped elsewhere, with the reason, instead of
    failing to collect. Call it right after the module's imports."""
    missing = [name for name in ("duckdb", "dbt.adapters.duckdb") if not _importable(name)]
    if missing:
        why = (
            f"the dbt extra is not installed (missing: {', '.join(missing)}) — "
            "pip install -e '.[dev,dbt]'"
        )
        if IN_CI:
            pytest.fail(
                f"{why} (CI=true: a missing package fails instead of skipping)", pytrace=False
            )
        pytest.skip(why, allow_module_level=True)
    return importlib.import_module("duckdb")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package is missing
        return False
