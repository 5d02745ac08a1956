"""File-system steps every writer shares: replace a file atomically (temp file + rename, so a
reader never sees half a file) and remove the folders a deletion left empty; and what every
cache keyed by a file's stat trusts: its content signature and the racy window."""

from __future__ import annotations

import os
import threading
from pathlib import Path

# A file modified within one timestamp tick of being read may change again without its stat
# changing (git's "racily clean" problem): a cache keyed by stat does not trust such a read. The
# tick is up to 2 s on file systems that store whole seconds.
RACY_NS = 2_000_000_000


def content_signature(st: os.stat_result) -> tuple[int, int, int, int]:
    """What a stat-keyed cache of a file's content compares: a rewrite changes one of these
    (size, mtime, ctime, inode), even one that puts the old mtime back."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


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
