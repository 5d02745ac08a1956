"""Re-run the tasks a save affects: wait for file changes (watchfiles' OS events when it is
installed, else polling the inputs' mtimes), let a burst of saves settle (debounce), map the
changed paths to tasks through the graph (`affected`), run exactly those with doit, and print
one line per run. The graph is re-read before each run, so a new pipeline or model is seen.

Changes doit itself makes (task targets, generated/ and build/ folders, .doit.db) are not
inputs of what they came from, so a run never triggers itself; a path whose content is what
it was at the last event (one save reported as several events) triggers nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dataplatform.build import doit_main
from dataplatform.graph.affected import affected_by
from dataplatform.graph.load import TaskGraph, load_graph
from dataplatform.project import Project

DEBOUNCE_MS = 300
POLL_SECONDS = 0.5
SETTLE_SECONDS = 0.1
SETTLE_ROUNDS = 10
IGNORED_PARTS = {".git", "__pycache__", ".venv", "node_modules", ".pytest_cache"}


@dataclass(frozen=True)
class Run:
    changed: tuple[str, ...]
    tasks: tuple[str, ...]
    exit_code: int
    seconds: float
    output: str = ""  # doit's output, shown when the run failed

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S")
        what = ", ".join(self.changed[:3]) + (
            f" (+{len(self.changed) - 3})" if len(self.changed) > 3 else ""
        )
        if not self.tasks:
            return f"{stamp} {what}: affects no selected task"
        outcome = "ok" if self.exit_code == 0 else f"FAILED (exit {self.exit_code})"
        return f"{stamp} {what} → {' '.join(self.tasks)}: {outcome} in {self.seconds:.1f} s"


def _relevant(project: Project, path: Path) -> str | None:
    try:
        relative = path.resolve().relative_to(project.root)
    except ValueError:
        return None
    parts = relative.parts
    if not parts or IGNORED_PARTS & set(parts) or parts[0].startswith(".doit.db"):
        return None
    return relative.as_posix()


def _changes_watchfiles(project: Project, stop: Callable[[], bool]) -> Iterator[set[str]]:
    import watchfiles

    for batch in watchfiles.watch(
        project.root,
        debounce=DEBOUNCE_MS,
        step=50,
        raise_interrupt=True,
        rust_timeout=500,
        yield_on_timeout=True,
    ):
        if stop():
            return
        found = {r for _, p in batch if (r := _relevant(project, Path(p)))}
        if found:
            yield found


def _snapshot(root: Path) -> dict[str, float]:
    seen: dict[str, float] = {}
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in IGNORED_PARTS]
        for name in files:
            path = os.path.join(current, name)
            try:
                seen[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue
    return seen


def _changes_polling(project: Project, stop: Callable[[], bool]) -> Iterator[set[str]]:
    before = _snapshot(project.root)
    while not stop():
        time.sleep(POLL_SECONDS)
        now = _snapshot(project.root)
        changed = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
        if changed:
            time.sleep(DEBOUNCE_MS / 1000)  # let a burst of saves settle
            settled = _snapshot(project.root)
            changed |= {p for p in now.keys() | settled.keys() if now.get(p) != settled.get(p)}
            now = settled
        before = now
        found = {r for p in changed if (r := _relevant(project, Path(p)))}
        if found:
            yield found


def changes(project: Project, stop: Callable[[], bool] = lambda: False) -> Iterator[set[str]]:
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        yield from _changes_polling(project, stop)
    else:
        yield from _changes_watchfiles(project, stop)


def selected(graph: TaskGraph, wanted: list[str]) -> set[str] | None:
    """The tasks the user named (a group names its subtasks), None for all."""
    if not wanted:
        return None
    from dataplatform.errors import UserError

    chosen: set[str] = set()
    for name in wanted:
        if name in graph.nodes:
            chosen.add(name)
        elif name in graph.tasks:
            chosen |= set(graph.tasks[name].task_dep) & set(graph.nodes)
        else:
            raise UserError(f"no task {name!r} — `invoke graph` lists the tasks")
    return chosen


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:  # deleted (or a folder)
        return None


class Contents:
    """What each path held when last seen: a second event for a save already handled (the OS
    often reports one save as several events) changes nothing, so it runs nothing."""

    def __init__(self, root: Path):
        self.root = root
        self.seen: dict[str, str | None] = {}

    def _settled(self, paths: set[str]) -> dict[str, str | None]:
        """The paths' digests once they stop changing (a save still being written, e.g. a
        file truncated and not yet written, is waited for; at most SETTLE_ROUNDS)."""
        now = {p: _digest(self.root / p) for p in paths}
        for _ in range(SETTLE_ROUNDS):
            time.sleep(SETTLE_SECONDS)
            again = {p: _digest(self.root / p) for p in paths}
            if again == now:
                break
            now = again
        return now

    def changed(self, paths: set[str]) -> set[str]:
        found = set()
        for path, digest in self._settled(paths).items():
            if path not in self.seen or self.seen[path] != digest:
                found.add(path)
            self.seen[path] = digest
        return found


def run_once(
    project: Project, paths: set[str], wanted: list[str], contents: Contents | None = None
) -> Run:
    graph = load_graph(project)
    targets = {t for node in graph.nodes.values() for t in node.targets}
    paths = {p for p in paths if p not in targets}
    if contents is not None:
        paths = contents.changed(paths)
    hit = affected_by(graph, paths)
    chosen = selected(graph, wanted)
    tasks = tuple(t for t in graph.order(set(hit.tasks)) if chosen is None or t in chosen)
    if not tasks:
        return Run(tuple(sorted(paths)), (), 0, 0.0)
    started = time.perf_counter()
    done = subprocess.run(
        [*doit_main.command(), *tasks],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Run(
        tuple(sorted(paths)),
        tasks,
        done.returncode,
        time.perf_counter() - started,
        done.stdout if done.returncode else "",
    )
