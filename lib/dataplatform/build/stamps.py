"""doit's file checker, remembering a touched file's new stamp.

doit's MD5 checker trusts a file_dep whose mtime is the one stored; for another mtime it
compares size and md5, and when the content is the same it says "unchanged" but keeps the old
mtime, so every later no-op hashes the file again (a `touch` of every file made each no-op read
them all). This checker says the same things, and notes the (mtime, size, md5) it computed;
`remember(task)`, called by the reporter for a task found up to date, stores them in doit's
database, so the next no-op reads nothing.

The class keeps doit's name `MD5Checker`: doit stores the checker's class name per task and
runs every task again when it changes.
"""

from __future__ import annotations

import threading
from typing import Any

from doit import dependency

_REFRESHED: dict[str, tuple[float, int, str]] = {}  # file → its new state, same content
_LOCK = threading.Lock()


class MD5Checker(dependency.MD5Checker):
    def check_modified(self, file_path: str, file_stat: Any, state: Any) -> bool:
        timestamp, size, file_md5 = state
        if file_stat.st_mtime == timestamp:
            return False
        if file_stat.st_size != size:
            return True
        current = dependency.get_file_md5(file_path)
        if current != file_md5:
            return True
        with _LOCK:
            _REFRESHED[str(file_path)] = (file_stat.st_mtime, file_stat.st_size, current)
        return False


def remember(task: Any, dep_manager: Any) -> None:
    """Store the new stamps of `task`'s file_dep found touched but unchanged (the task is up to
    date: doit saves nothing for it)."""
    if dep_manager is None or not _REFRESHED:  # the usual no-op: nothing was touched
        return
    with _LOCK:
        found = {dep: _REFRESHED[dep] for dep in task.file_dep if dep in _REFRESHED}
    for dep, state in found.items():
        dep_manager._set(task.name, dep, state)
