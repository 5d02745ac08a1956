"""Managed tool environments: a virtual environment per lock file content, made once with uv
and reused by every later run, kept under `.dataplatform/envs/` (never the project's own venv:
Airflow's or Dagster's dependency tree must not leak into it).

An environment is `<tool>-<16 hex of the lock's sha256>`; it counts only once its `.complete`
marker exists, so an interrupted install is removed and redone, and two processes wanting the
same environment wait for each other on a file lock instead of installing twice.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dataplatform import settings
from dataplatform.errors import UserError
from dataplatform.project import Project

MARKER = ".complete"


def lock_digest(lock: Path) -> str:
    """The lock's content digest; read once per process while the file stays as it was
    (every validate task of a run asks for its environment)."""
    try:
        st = lock.stat()
        return _digest(str(lock), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        raise UserError(
            f"{lock}: cannot read the lock file ({exc.strerror}) — restore it or "
            "point orchestration.yaml at another one"
        ) from None


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def env_dir(project: Project, tool: str, lock: Path) -> Path:
    base = settings.envs_dir(project.root, project.envs_dir)
    return base / f"{tool}-{lock_digest(lock)[:16]}"


def python_of(directory: Path) -> Path:
    return directory / "bin" / "python"


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise UserError(
        "uv is not installed in this environment — pip install -e . (it makes "
        "the managed Airflow/Dagster environments)"
    )


def ensure(
    project: Project, tool: str, lock: Path, log: Callable[[str], None] = lambda line: None
) -> Path:
    """The python of the environment for `lock`, made first if needed."""
    directory = env_dir(project, tool, lock)
    if (directory / MARKER).exists():
        return python_of(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another process may be making the same one
        if (directory / MARKER).exists():
            return python_of(directory)
        shutil.rmtree(directory, ignore_errors=True)
        log(
            f"making the {tool} environment from {project.relative(lock)} (once per lock "
            "content; later runs reuse it)"
        )
        _make(directory, lock)
        (directory / MARKER).write_text(lock_digest(lock) + "\n")
    return python_of(directory)


def _make(directory: Path, lock: Path) -> None:
    uv = uv_binary()
    # Compiled once at install: with PYTHONDONTWRITEBYTECODE set, Airflow would otherwise
    # re-compile on every import (a DagBag takes seconds longer).
    env = {**os.environ, "UV_COMPILE_BYTECODE": "1", "VIRTUAL_ENV": str(directory)}
    env.pop("PYTHONHOME", None)
    steps = [
        [uv, "venv", "--quiet", "--python", _base_python(), str(directory)],
        [uv, "pip", "sync", "--quiet", "--python", str(python_of(directory)), str(lock)],
    ]
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
            raise UserError(
                f"could not make the environment for {lock.name}: "
                f"{' / '.join(line.strip() for line in last)} — check that the "
                "package index is reachable, then run again"
            )


def _base_python() -> str:
    """The interpreter the toolkit runs on (its base, not the project venv)."""
    return getattr(sys, "_base_executable", None) or sys.executable
