"""File-system steps every writer shares: replace a file atomically (temp file + rename, so a
reader never sees half a file) and remove the folders a deletion left empty."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Write `data` to `path` in one step; `mode` sets the permissions the file is created with
    (the temp file has them from the start, so a secret is never readable by others)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prune_empty_parents(path: Path, stop: Path) -> None:
    """Remove `path`'s parent folders while they are empty, up to (not including) `stop`."""
    parent = Path(path).parent
    while parent != stop and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
