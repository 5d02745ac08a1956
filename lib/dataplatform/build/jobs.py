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
exactly what they asked for: N of everything, nothing serialized. `-n 0` is doit's plain
sequential runner.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence

DEFAULT_JOBS = max(2, min(4, os.cpu_count() or 1))  # engine-bound work: 2 even on one core
PARALLEL_TYPE = "thread"  # actions share the run state (build.runstate) and the engine client
# re-entrant: a Deferred action (build.dodo) is an Action running the real Action inside it
EXCLUSIVE = threading.RLock()

_EXPLICIT = ("-n", "--process", "-P", "--parallel-type")
_state = {"serialize": True}


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


def doit_defaults() -> dict[str, object]:
    """The `DOIT_CONFIG` entries for the default parallelism (the command line overrides)."""
    return {"num_process": DEFAULT_JOBS, "par_type": PARALLEL_TYPE}


@contextlib.contextmanager
def slot(concurrent: bool) -> Iterator[None]:
    """Where an action runs: freely when it is `concurrent` or the user chose `-n`; else one
    at a time."""
    if concurrent or not _state["serialize"]:
        yield
        return
    with EXCLUSIVE:
        yield
