"""Task output that is safe under `doit -P thread`.

doit swaps `sys.stdout` for a capturing writer while each Python action runs; with threads, one
action's prints land in another's capture buffer (io.StringIO is not thread-safe, and CPython
can crash on it). Task output therefore goes straight to the process's real stdout, one whole
line at a time, under a lock.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()


def say(line: str) -> None:
    stream = sys.__stdout__
    if stream is None:  # no terminal at all (embedded interpreter)
        return
    with _lock:
        stream.write(line + "\n")
        stream.flush()
