"""doit's reasons for running a task, in the words `invoke why` uses.

doit's `Dependency.get_status(task, tasks, get_log=True)` returns a `DependencyStatus` whose
`reasons` name what made the task stale: `uptodate_false` (the checks that said no),
`has_no_dependencies`, `missing_target`, `checker_changed`, `added_file_dep`,
`removed_file_dep`, `changed_file_dep`, `missing_file_dep`. `explain` turns them into one
sentence each — "input changed: <path>", "generator version changed: 1 → 2", "image missing:
…", "never ran successfully …" — against the dependency database as it is *before* the task
runs (the stored values are the previous run's). Both `invoke why` (graph.status, now) and the
run record written during `doit` (build.lastrun, last time) use it, so both say the same thing.

Only cheap, lazily imported modules: a doit run imports this when a task is about to execute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dataplatform.build.meaning import stat_of
from dataplatform.errors import UserError

NEVER_RAN = "never ran successfully (no record in the dependency database)"
MEANING_LABELS = {
    "YamlSame": "YAML content changed",
    "ValuesSame": "declared value changed",
    "InputsSaySame": "dbt project YAML or generated staging changed",
}


def relative(root: Path, path: str) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def never_ran(db: Any, name: str) -> bool:
    """No success of `name` recorded in doit's database (never ran, or `doit forget`)."""
    return db._get(name, "checker:") is None and not db.get_values(name)


def explain_checker(root: Path, db: Any, task: Any, checker: Any) -> str:
    """One sentence for an uptodate check that said "not up to date"."""
    checker = _unwrapped(checker)
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
        return (
            f"image missing: {checker.spec.name}:{tag} (that build context's fingerprint) "
            "is not on the engine"
        )
    if getattr(checker, "paths", None) is not None and getattr(checker, "key", None):
        return _explain_meaning(root, db, task, checker)
    if kind == "InputsSaySame":
        if db.get_values(task.name).get(checker.KEY) is None:
            return "dbt project YAML / generated staging never recorded"
        return "dbt project YAML or generated staging changed meaning"
    if kind in ("OutputsIntact", "AssembledIntact"):
        return "a generated file was edited or deleted since the last run"
    if kind == "WarehousePresent":
        return f"warehouse file missing: {relative(root, str(checker.path))}"
    doc = (getattr(checker, "__doc__", None) or kind).strip().splitlines()[0]
    return f"up-to-date check false: {doc}"


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


def _explain_meaning(root: Path, db: Any, task: Any, checker: Any) -> str:
    """A check comparing what files say (build.meaning.SameMeaning: `paths`, `key`, and the
    stat signature of each path stored at the last success): names the files that differ."""
    label = MEANING_LABELS.get(type(checker).__name__, "content changed")
    stored = db.get_values(task.name).get(checker.key) or {}
    if not stored:
        return f"{label}: never recorded"
    before = stored.get("stat") or []
    changed = []
    for index, path in enumerate(checker.paths):
        stat = stat_of(path)
        now = list(stat) if stat else None  # as meaning.py stores it
        if index >= len(before) or before[index] != now:
            changed.append(relative(root, path) + ("" if now else " (deleted)"))
    shown = changed or [relative(root, p) for p in checker.paths]
    if type(checker).__name__ == "ValuesSame":
        keys = [
            ".".join(str(_key(k)) for k in keypath)
            for _file, keypath in getattr(checker, "values", [])
        ]
        if keys:
            return f"{label} ({', '.join(keys)}): {', '.join(shown)}"
    return f"{label}: {', '.join(shown)}"


# up-to-date checks that compare with what the last success stored (nothing, if it never ran)
LAST_RUN_CHECKS = {
    "config_changed",
    "InputsSaySame",
    "OutputsIntact",
    "AssembledIntact",
    "WarehousePresent",
}


def _unwrapped(checker: Any) -> Any:
    """The check a `build.meaning.Remembered` answers for (it only remembers its answer)."""
    while type(checker).__name__ == "Remembered" and callable(getattr(checker, "check", None)):
        checker = checker.check
    return checker


def _compares_with_last_run(checker: Any) -> bool:
    checker = _unwrapped(checker)
    return type(checker).__name__ in LAST_RUN_CHECKS or (
        getattr(checker, "paths", None) is not None and bool(getattr(checker, "key", None))
    )


def explain(root: Path, db: Any, task: Any, logged: dict[str, Any], never: bool) -> list[str]:
    """The sentences for doit's `DependencyStatus.reasons` of `task`. `never` (no success
    recorded): that is the reason — the checks comparing with the last run then only say
    "nothing recorded", and the targets are missing — so only what is true of the world rather
    than of the record (an image not on the engine, a check of another kind, a file checker
    changed, an input missing) is added."""
    reasons: list[str] = []
    if never:
        reasons.append(NEVER_RAN)
        reasons.extend(
            explain_checker(root, db, task, checker)
            for checker, _args, _kwargs in logged.get("uptodate_false", [])
            if not _compares_with_last_run(checker)
        )
        if logged.get("checker_changed"):
            before, now = logged["checker_changed"]
            reasons.append(f"file checker changed: {before} → {now}")
        reasons.extend(
            f"input missing: {relative(root, path)}" for path in logged.get("missing_file_dep", [])
        )
        return reasons
    for checker, _args, _kwargs in logged.get("uptodate_false", []):
        reasons.append(explain_checker(root, db, task, checker))
    if logged.get("has_no_dependencies"):
        reasons.append("no inputs declared: always runs")
    for target in logged.get("missing_target", []):
        reasons.append(f"target missing: {relative(root, str(target))}")
    if logged.get("checker_changed"):
        before, now = logged["checker_changed"]
        reasons.append(f"file checker changed: {before} → {now}")
    for path in logged.get("added_file_dep", []):
        reasons.append(f"input added: {relative(root, path)}")
    for path in logged.get("removed_file_dep", []):
        reasons.append(f"input removed: {relative(root, path)}")
    for path in logged.get("changed_file_dep", []):
        reasons.append(f"input changed: {relative(root, path)}")
    for path in logged.get("missing_file_dep", []):
        reasons.append(f"input missing: {relative(root, path)}")
    return reasons
