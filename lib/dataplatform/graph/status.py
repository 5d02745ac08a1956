"""Why a task would run, asked of doit's own dependency database (`.doit.db`) and up-to-date
machinery (`Dependency.get_status`, what `doit info --status` prints), in plain words.

Nothing is written: the database is opened and never saved; with no database (nothing ever
ran) an in-memory one stands in, so no `.doit.db` appears. A task whose upstream would run
may run as well: doit decides that after the upstream ran (content decides), so it is
reported as `may run` with the upstream named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.dependency import CHECKERS, DbmDB, Dependency, JsonDB, SqliteDB

from dataplatform.errors import UserError
from dataplatform.graph.load import TaskGraph
from dataplatform.graph.reasons import explain, never_ran

BACKENDS = {"sqlite3": SqliteDB, "json": JsonDB, "dbm": DbmDB}

RUN, MAY_RUN, UP_TO_DATE, ERROR = "run", "may run", "up to date", "error"


@dataclass
class Status:
    task: str
    state: str  # RUN, MAY_RUN, UP_TO_DATE, ERROR
    reasons: list[str] = field(default_factory=list)
    never_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "state": self.state,
            "never_run": self.never_run,
            "reasons": self.reasons,
        }


def open_db(graph: TaskGraph) -> Dependency:
    config = graph.config
    backend = config.get("backend", "dbm")
    name = str(graph.project.root / config.get("dep_file", ".doit.db"))
    configured = config.get("check_file_uptodate", "md5")  # a name, or a class (as doit takes)
    checker = CHECKERS[configured] if isinstance(configured, str) else configured
    exists = Path(name).exists() or any(Path(name).parent.glob(Path(name).name + ".*"))
    if not exists:
        return Dependency(SqliteDB, ":memory:", checker_cls=checker)
    try:
        return Dependency(BACKENDS.get(backend, SqliteDB), name, checker_cls=checker)
    except Exception as exc:  # a corrupt database: doit would say the same
        raise UserError(
            f"{Path(name).name}: cannot be read ({exc}) — delete it; the next "
            "`doit` run rebuilds it"
        ) from None


def _status(graph: TaskGraph, db: Dependency, name: str) -> Status:
    task = graph.tasks[name]
    never = never_ran(db, name)
    try:
        found = db.get_status(task, graph.tasks, get_log=True)
    except Exception as exc:  # an uptodate check that raises: doit would fail the task too
        return Status(name, ERROR, [f"up-to-date check raised {type(exc).__name__}: {exc}"], never)
    if found.status == "up-to-date":
        return Status(name, UP_TO_DATE, [], never)
    reasons = explain(graph.project.root, db, task, found.reasons, never)
    state = ERROR if found.status == "error" else RUN
    return Status(name, state, reasons or ["not up to date"], never)


def statuses(graph: TaskGraph, names: set[str] | None = None) -> list[Status]:
    """Status of `names` (default every task) and of what they wait for, in run order; a task
    up to date itself whose upstream runs `may run`."""
    wanted = graph.closure_up(set(graph.nodes) if names is None else names)
    db = open_db(graph)
    found: dict[str, Status] = {}
    for name in graph.order(wanted):
        status = _status(graph, db, name)
        if status.state == UP_TO_DATE:
            running = [
                up
                for up in graph.nodes[name].upstream
                if up in found and found[up].state in (RUN, MAY_RUN, ERROR)
            ]
            if running:
                status = Status(
                    name,
                    MAY_RUN,
                    [
                        f"upstream {up} {'runs' if found[up].state == RUN else found[up].state} "
                        "first; whether its output changes decides"
                        for up in sorted(running)
                    ],
                    status.never_run,
                )
        found[name] = status
    return [found[n] for n in graph.order(wanted)]


def why(graph: TaskGraph, name: str) -> list[Status]:
    """The status of `name` and of the upstream tasks it waits for."""
    if name not in graph.tasks:
        from dataplatform.config.validate import suggestion

        near = suggestion(name, sorted(graph.nodes))
        hint = f"did you mean {near!r}?" if near else "`invoke graph` lists the tasks"
        raise UserError(f"no task {name!r} — {hint}")
    if name not in graph.nodes:  # a group: every subtask
        return statuses(graph, set(graph.tasks[name].task_dep) & set(graph.nodes))
    return statuses(graph, {name})
