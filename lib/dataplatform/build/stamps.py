"""doit's file checker: each file_dep's content read at most once per run, and a touched
file's new stamp remembered.

doit's MD5 checker trusts a file_dep whose mtime is the one stored; for another mtime it
compares size and md5. This checker says the same things, with two savings:

- Once per run. doit hashes a file in `check_modified` (is the task up to date?) and, when the
  task ran, again in `get_state` (saving its state); a file_dep of several tasks is hashed once
  per task. Here every digest computed is kept for the process with the file's stat signature
  (mtime_ns, size, ctime_ns, inode) and reused while the file stats the same; a file that
  changed since (the task rewrote it, another process did) is hashed anew. A digest is kept
  only when the file stats the same after it was read and its mtime is older than
  `fsutil.RACY_NS`: a file system with a coarse clock may give a rewrite the same stamps.
- Touched, unchanged. When the content is the same doit says "unchanged" but keeps the old
  mtime, so every later no-op hashes the file again (a `touch` of every file made each no-op
  read them all). The (mtime, size, md5) found is noted; `remember(task)`, called by the
  reporter for a task found up to date, stores them in doit's database, so the next no-op
  reads nothing.

The class keeps doit's name `MD5Checker`: doit stores the checker's class name per task and
runs every task again when it changes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from doit import dependency

from dataplatform.fsutil import RACY_NS, content_signature

Signature = tuple[int, int, int, int]  # fsutil.content_signature

_REFRESHED: dict[str, tuple[float, int, str]] = {}  # file → its new state, same content
_DIGESTS: dict[str, tuple[Signature, str]] = {}  # file → the stats it had when hashed, md5
_LOCK = threading.Lock()


def file_md5(path: str, stat: os.stat_result) -> str:
    """The md5 of `path`, which `os.stat` just described as `stat`: read once per process
    while the file stats the same."""
    key, signature = str(path), content_signature(stat)
    with _LOCK:
        known = _DIGESTS.get(key)
    if known is not None and known[0] == signature:
        return known[1]
    digest = dependency.get_file_md5(path)
    settled = time.time_ns() - stat.st_mtime_ns > RACY_NS
    if settled and content_signature(os.stat(path)) == signature:  # not rewritten while read
        with _LOCK:
            _DIGESTS[key] = (signature, digest)
    return digest


class MD5Checker(dependency.MD5Checker):
    def check_modified(self, file_path: str, file_stat: Any, state: Any) -> bool:
        timestamp, size, stored = state
        if file_stat.st_mtime == timestamp:
            return False
        if file_stat.st_size != size:
            return True
        current = file_md5(file_path, file_stat)
        if current != stored:
            return True
        with _LOCK:
            _REFRESHED[str(file_path)] = (file_stat.st_mtime, file_stat.st_size, current)
        return False

    def get_state(self, dep: str, current_state: Any) -> tuple[float, int, str] | None:
        stat = os.stat(dep)  # FileNotFoundError: doit reports the missing file_dep
        if current_state and current_state[0] == stat.st_mtime:
            return None  # saved with this stamp already
        return stat.st_mtime, stat.st_size, file_md5(dep, stat)


def remember(task: Any, dep_manager: Any) -> None:
    """Store the new stamps of `task`'s file_dep found touched but unchanged (the task is up to
    date: doit saves nothing for it)."""
    if dep_manager is None or not _REFRESHED:  # the usual no-op: nothing was touched
        return
    with _LOCK:
        found = {dep: _REFRESHED[dep] for dep in task.file_dep if dep in _REFRESHED}
    for dep, state in found.items():
        dep_manager._set(task.name, dep, state)
