"""Why a task would run, asked of doit's own dependency database (`.doit.db`) and up-to-date
machinery (`Dependency.get_status`, what `doit info --status` prints), in plain words.

Nothing is written: the database is opened and never saved; with no database (nothing ever
ran) an in-memory one stands in, so no `.doit.db` appears. A task whose upstream would run
may run as well: doit decides that after the upstream ran (content decides), so it is
reported as `may run` with the upstream named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.dependency import CHECKERS, DbmDB, Dependency, JsonDB, SqliteDB

from dataplatform.errors import UserError
from dataplatform.graph.load import TaskGraph

BACKENDS = {"sqlite3": SqliteDB, "json": JsonDB, "dbm": DbmDB}

RUN, MAY_RUN, UP_TO_DATE, ERROR = "run", "may run", "up to date", "error"


@dataclass
class Status:
    task: str
    state: str  # RUN, MAY_RUN, UP_TO_DATE, ERROR
    reasons: list[str] = field(default_factory=list)
    never_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"task": self.task, "state": self.state, "never_run": self.never_run,
                "reasons": self.reasons}


def open_db(graph: TaskGraph) -> Dependency:
    config = graph.config
    backend = config.get("backend", "dbm")
    name = str(graph.project.root / config.get("dep_file", ".doit.db"))
    checker = CHECKERS[config.get("check_file_uptodate", "md5")]
    exists = Path(name).exists() or any(Path(name).parent.glob(Path(name).name + ".*"))
    if not exists:
        return Dependency(SqliteDB, ":memory:", checker_cls=checker)
    try:
        return Dependency(BACKENDS.get(backend, SqliteDB), name, checker_cls=checker)
    except Exception as exc:  # a corrupt database: doit would say the same
        raise UserError(f"{Path(name).name}: cannot be read ({exc}) — delete it; the next "
                        "`doit` run rebuilds it") from None


def _relative(graph: TaskGraph, path: str) -> str:
    try:
        return Path(path).relative_to(graph.project.root).as_posix()
    except ValueError:
        return path


def _explain_checker(graph: TaskGraph, db: Dependency, task: Any, checker: Any) -> str:
    """One sentence for an uptodate check that said "not up to date"."""
    kind = type(checker).__name__
    if kind == "config_changed":
        previous = db.get_values(task.name).get("_config_changed")
        if previous is None:
            return f"no recorded configuration ({checker.config!r})"
        if isinstance(checker.config, str):
            return f"generator version changed: {previous} → {checker.config}"
        return f"configuration changed: now {json.dumps(checker.config, sort_keys=True)}"
    if kind == "ImageUpToDate":
        from dataplatform.build.runstate import RUN as STATE

        try:
            tag = STATE.fingerprint(checker.spec).tag
        except UserError as exc:
            return f"image cannot be fingerprinted: {exc}"
        if STATE.engine_failure is not None:
            return f"Docker engine unavailable, image {checker.spec.name}:{tag} not checked"
        return f"image missing: {checker.spec.name}:{tag} (that build context's fingerprint) " \
               "is not on the engine"
    if getattr(checker, "paths", None) is not None and getattr(checker, "key", None):
        return _explain_meaning(graph, db, task, checker)
    if kind == "InputsSaySame":
        if db.get_values(task.name).get(checker.KEY) is None:
            return "dbt project YAML / generated staging never recorded"
        return "dbt project YAML or generated staging changed meaning"
    if kind in ("OutputsIntact", "AssembledIntact"):
        return "a generated file was edited or deleted since the last run"
    if kind == "WarehousePresent":
        return f"warehouse file missing: {_relative(graph, str(checker.path))}"
    doc = (getattr(checker, "__doc__", None) or kind).strip().splitlines()[0]
    return f"up-to-date check false: {doc}"


MEANING_LABELS = {"YamlSame": "YAML content changed", "ValuesSame": "declared value changed",
                  "InputsSaySame": "dbt project YAML or generated staging changed"}


def _key(part: Any) -> Any:
    """A keypath element as it reads now: an `inputs.ref` is looked up in its file."""
    if not isinstance(part, dict):
        return part
    import yaml

    try:
        data = yaml.safe_load(Path(part["file"]).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "?"
    for key in part["keypath"]:
        data = data.get(_key(key)) if isinstance(data, dict) else None
    return data if isinstance(data, str) else "?"


def _explain_meaning(graph: TaskGraph, db: Dependency, task: Any, checker: Any) -> str:
    """A check comparing what files say (build.meaning.SameMeaning: `paths`, `key`, and the
    stat signature of each path stored at the last success): names the files that differ."""
    label = MEANING_LABELS.get(type(checker).__name__, "content changed")
    stored = db.get_values(task.name).get(checker.key) or {}
    if not stored:
        return f"{label}: never recorded"
    before = stored.get("stat") or []
    changed = []
    for index, path in enumerate(checker.paths):
        try:
            stat = Path(path).stat()
            now: list[int] | None = [stat.st_mtime_ns, stat.st_size]
        except OSError:
            now = None
        if index >= len(before) or before[index] != now:
            changed.append(_relative(graph, path) + ("" if now else " (deleted)"))
    shown = changed or [_relative(graph, p) for p in checker.paths]
    if type(checker).__name__ == "ValuesSame":
        keys = [".".join(str(_key(k)) for k in keypath)
                for _file, keypath in getattr(checker, "values", [])]
        if keys:
            return f"{label} ({', '.join(keys)}): {', '.join(shown)}"
    return f"{label}: {', '.join(shown)}"


def _status(graph: TaskGraph, db: Dependency, name: str) -> Status:
    task = graph.tasks[name]
    never = db._get(name, "checker:") is None and not db.get_values(name)
    try:
        found = db.get_status(task, graph.tasks, get_log=True)
    except Exception as exc:  # an uptodate check that raises: doit would fail the task too
        return Status(name, ERROR, [f"up-to-date check raised {type(exc).__name__}: {exc}"],
                      never)
    if found.status == "up-to-date":
        return Status(name, UP_TO_DATE, [], never)
    reasons: list[str] = []
    if never:
        reasons.append("never ran successfully (no record in the dependency database)")
    logged = found.reasons
    for checker, _args, _kwargs in logged.get("uptodate_false", []):
        reasons.append(_explain_checker(graph, db, task, checker))
    if logged.get("has_no_dependencies"):
        reasons.append("no inputs declared: always runs")
    for target in logged.get("missing_target", []):
        reasons.append(f"target missing: {_relative(graph, str(target))}")
    if logged.get("checker_changed"):
        before, now = logged["checker_changed"]
        reasons.append(f"file checker changed: {before} → {now}")
    if not never:
        for path in logged.get("added_file_dep", []):
            reasons.append(f"input added: {_relative(graph, path)}")
        for path in logged.get("removed_file_dep", []):
            reasons.append(f"input removed: {_relative(graph, path)}")
        for path in logged.get("changed_file_dep", []):
            reasons.append(f"input changed: {_relative(graph, path)}")
    for path in logged.get("missing_file_dep", []):
        reasons.append(f"input missing: {_relative(graph, path)}")
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
            running = [up for up in graph.nodes[name].upstream
                       if up in found and found[up].state in (RUN, MAY_RUN, ERROR)]
            if running:
                status = Status(name, MAY_RUN, [
                    f"upstream {up} {'runs' if found[up].state == RUN else found[up].state} "
                    "first; whether its output changes decides" for up in sorted(running)],
                    status.never_run)
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
