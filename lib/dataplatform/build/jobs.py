"""How many doit tasks run at once, and which of them may overlap.

doit runs one task at a time unless it is told `-n N`. An image build spends its time waiting
on the engine (sending the context, the engine's own steps, labelling), so one build at a time
leaves the engine and the machine's other cores idle: a plain `docker build` loop beat a
sequential doit on a cold build of 50 images although doit did no extra build step.

So by default `doit` runs `DEFAULT_JOBS` tasks at once in threads, and only the actions that
say so overlap: an action whose callable has `concurrent = True` (the image task's
`EnsureImage`) runs freely, every other action takes `EXCLUSIVE` first, so dbt builds, code
generation and validation still run one at a time, in dependency order, as before. A user who
asks for parallelism themselves (`-n N` / `--process`, or `-P` / `--parallel-type`) gets
doit's own meaning of it: N of everything, nothing serialized, and one task at a time when only
`-P` is given. `-n 0` is doit's plain sequential runner.

The command line is read in one place, `doit_config` (build.dodo), from `sys.argv` when doit
was started by one of its entries (`launched_as_doit`).

Limits: the slot is taken after doit handed the task to a worker, so a task waiting for it
holds that worker (two dbt builds ready at once occupy both of 2 workers, and an image build
waits for one); and an action rebuilt from the load cache as `Deferred` (one that is not plain
data; `EnsureImage` is) runs alone.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

DEFAULT_JOBS = max(2, min(4, os.cpu_count() or 1))  # engine-bound work: 2 even on one core
PARALLEL_TYPE = "thread"  # actions share the run state (build.runstate) and the engine client
# re-entrant: a Deferred action (build.dodo) is an Action running the real Action inside it
EXCLUSIVE = threading.RLock()

_EXPLICIT = ("-n", "--process", "-P", "--parallel-type")
_state = {"serialize": True, "stopping": False, "running": 0}
_IDLE = threading.Condition()  # notified whenever an action ends


def chosen_on_command_line(argv: Sequence[str]) -> bool:
    """Whether `argv` (doit's arguments) sets the number of processes or the parallel type."""
    for arg in argv:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name in _EXPLICIT or (arg.startswith(("-n", "-P")) and not arg.startswith("--")):
            return True
    return False


def follow_command_line(argv: Sequence[str]) -> None:
    """Serialize non-concurrent actions unless the user chose the parallelism themselves."""
    _state["serialize"] = not chosen_on_command_line(argv)


def launched_as_doit(argv0: str) -> bool:
    """Whether `argv0` (`sys.argv[0]`) starts doit: the `doit` script, `python -m doit` or
    `python -m dataplatform.build.doit_main`."""
    path = Path(argv0)
    return path.name in ("doit", "doit_main.py") or (
        path.name == "__main__.py" and path.parent.name == "doit"
    )


def doit_defaults() -> dict[str, object]:
    """The `DOIT_CONFIG` entries of the default parallelism; none when the command line chose
    (doit's own defaults then apply to what it did not say)."""
    if not _state["serialize"]:
        return {}
    return {"num_process": DEFAULT_JOBS, "par_type": PARALLEL_TYPE}


@contextlib.contextmanager
def slot(concurrent: bool) -> Iterator[None]:
    """Where an action runs: freely when it is `concurrent` or the user chose `-n`; else one
    at a time. Once the run is interrupted (`stop`), an action that has not started never
    does."""
    if concurrent or not _state["serialize"]:
        with _running():
            yield
        return
    with EXCLUSIVE, _running():
        yield


@contextlib.contextmanager
def _running() -> Iterator[None]:
    with _IDLE:
        if _state["stopping"]:
            raise KeyboardInterrupt  # in a worker thread doit has already given up on
        _state["running"] += 1
    try:
        yield
    finally:
        with _IDLE:
            _state["running"] -= 1
            _IDLE.notify_all()


def stop(grace_s: float) -> int:
    """Ctrl-C reached the main thread while actions run in doit's worker threads (which doit
    abandons, and the interpreter kills at exit, cleanup and all): start no further action,
    and give the running ones up to `grace_s` to end (a dbt build ends with its own Ctrl-C;
    an image build waits on the engine). How many were still running."""
    with _IDLE:
        _state["stopping"] = True
        _IDLE.wait_for(lambda: _state["running"] == 0, timeout=grace_s)
        return int(_state["running"])
