"""The last run of each doit task, kept for `invoke why`: when doit ran it, why, how it ended.

During a `doit` run the reporter installs a `Recorder` on doit's dependency manager
(`doit.globals.Globals.dep_manager`). doit asks `Dependency.get_status(task, tasks)` once per
task to decide whether it runs; the recorder asks with `get_log=True` instead, so doit keeps
the reasons it found (`DependencyStatus.reasons`) — for an up-to-date task that is the very
same work (doit only stops early on the first reason for a task that runs) — and gives doit
back the status and `task.dep_changed` it would have computed without the log. For a task that
will run, the reasons are put into `invoke why`'s words (graph.reasons) right then, before the
task changes the database. The reporter adds the outcome (ok, failed, skipped) and the time.

At the end of a run that executed something, the records are merged into one small JSON file
(`Project.last_run_file`, written atomically): the last run per task, tasks no longer declared
dropped, at most MAX_TASKS tasks and MAX_REASONS reasons of MAX_CHARS each. A no-op run
executes nothing and touches no file here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataplatform.fsutil import write_atomic

VERSION = 1
MAX_TASKS = 5000
MAX_REASONS = 20
MAX_CHARS = 300

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
FORCED = "forced: run although up to date (doit --always-execute)"
NOT_EXPLAINED = "not up to date"
# the reasons doit stops at in a status computed without its log, in the order it checks them
_STOP_FIRST = ("uptodate_false", "has_no_dependencies")
_STOP_ALL_DEPS = ("missing_target", "checker_changed")


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def bounded(reasons: list[str]) -> list[str]:
    shown = [_short(r) for r in reasons[:MAX_REASONS]]
    if len(reasons) > MAX_REASONS:
        shown.append(f"… and {len(reasons) - MAX_REASONS} more")
    return shown


def timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def read(path: Path) -> dict[str, dict[str, Any]]:
    """task → its last run record; nothing recorded (or an unreadable file) reads as empty."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    tasks = data.get("tasks")
    return tasks if isinstance(tasks, dict) else {}


def save(path: Path, records: dict[str, dict[str, Any]], declared: set[str] | None) -> None:
    """Merge `records` into the file at `path`: newest record per task, only `declared` tasks
    (None: keep all), at most MAX_TASKS (the most recent)."""
    merged = {
        name: record for name, record in read(path).items() if declared is None or name in declared
    }
    merged.update(records)
    if len(merged) > MAX_TASKS:
        newest = sorted(merged, key=lambda n: str(merged[n].get("at", "")), reverse=True)
        merged = {name: merged[name] for name in newest[:MAX_TASKS]}
    payload = {"version": VERSION, "tasks": dict(sorted(merged.items()))}
    write_atomic(
        path, json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    )


def _as_doit_decides(result: Any, task: Any) -> None:
    """Give `result`/`task` the status and `dep_changed` doit computes without `get_log`: it
    stops at the first reason, so a missing file_dep found after a reason to run is no error,
    and `dep_changed` is empty (an up-to-date check said no, a file_dep missing) or every
    file_dep (a target missing, the file checker changed)."""
    found = result.reasons
    if any(found.get(kind) for kind in _STOP_FIRST):
        result.status, task.dep_changed = "run", []
    elif any(found.get(kind) for kind in _STOP_ALL_DEPS):
        result.status, task.dep_changed = "run", list(task.file_dep)
    elif found.get("missing_file_dep"):  # doit stops before it sets dep_changed
        result.status, task.dep_changed = "error", []


@dataclass
class Recorder:
    """Collects, for one doit process, why each task ran and how it ended."""

    dep_manager: Any
    root: Path
    pending: dict[str, list[str]] = field(default_factory=dict)  # task → why it will run
    started: dict[str, float] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def install(self) -> None:
        original = self.dep_manager.get_status

        def get_status(task: Any, tasks_dict: Any, get_log: bool = False) -> Any:
            result = original(task, tasks_dict, get_log=True)
            if not get_log:
                _as_doit_decides(result, task)
            if result.status != "up-to-date":
                self.pending[task.name] = self._explain(task, result.reasons)
            return result

        self.dep_manager.get_status = get_status

    def _explain(self, task: Any, logged: dict[str, Any]) -> list[str]:
        try:
            from dataplatform.graph.reasons import explain, never_ran

            never = never_ran(self.dep_manager, task.name)
            return explain(self.root, self.dep_manager, task, logged, never) or [NOT_EXPLAINED]
        except Exception as exc:  # the record must never break a build
            return [f"{NOT_EXPLAINED} (reason not recorded: {type(exc).__name__})"]

    def start(self, name: str) -> None:
        self.started[name] = time.time()

    def finish(self, name: str, outcome: str, detail: str | None = None) -> None:
        now = time.time()
        begun = self.started.pop(name, None)
        reasons = self.pending.pop(name, None)
        if reasons is None:
            reasons = [FORCED] if begun is not None else []
        self.records[name] = {
            "at": timestamp(begun if begun is not None else now),
            "outcome": outcome,
            "reasons": bounded(reasons),
            "detail": _short(detail) if detail else None,
            "seconds": round(now - begun, 3) if begun is not None else 0.0,
        }
