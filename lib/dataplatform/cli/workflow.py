"""Monorepo workflow commands over doit's task graph: `affected`, `why`, `graph`, `plan`,
`watch`, `validate`. The logic lives in dataplatform.graph; this module parses options and
prints (rich for people, `--json` with sorted keys for machines)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from invoke.exceptions import Exit

from dataplatform.cli.common import command, console, errors
from dataplatform.errors import UserError
from dataplatform.project import Project, find_project


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _line(text: str) -> None:
    """Plain write: rich keeps a line in its buffer until after the flush, so a Ctrl-C landing
    just then printed it twice."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _project_paths(project: Project, top: Path, paths: set[str]) -> set[str]:
    found = set()
    for path in paths:
        try:
            found.add((top / path).resolve().relative_to(project.root).as_posix())
        except ValueError:
            continue  # outside the project folder of a larger repository
    return found


def _run_doit(project: Project, tasks: list[str]) -> int:
    from dataplatform.build import doit_main

    return subprocess.run([*doit_main.command(), *tasks], cwd=project.root).returncode


@command(
    name="affected",
    help={
        "since": "git ref (branch, tag, commit) to compare the working tree with (default: "
        "the merge base of HEAD and the default branch, origin/HEAD or main/master)",
        "json": "print JSON (sorted keys) instead of a summary",
        "run": "run exactly the affected doit tasks (the pull-request CI use case)",
    },
)
def affected(c, since=None, json=False, run=False):
    """Pipelines, images, generated files, services and tasks a change affects.

    Compares the working tree (committed, staged, unstaged and untracked files; a rename counts
    as its old and its new path, a deletion counts) with --since REF, and maps each changed
    path to the doit tasks that read it — their file_dep and what their up-to-date checks read
    (dbt folders, shared macros, source groups, templates, image build contexts) — then adds
    every dependent task and the services running an affected image. In a shallow clone it
    says which `git fetch` gives it the history it needs."""
    from dataplatform.graph.affected import affected_by
    from dataplatform.graph.changes import changes_since, reader_at
    from dataplatform.graph.load import load_graph

    project = find_project()
    found = changes_since(project.root, since)
    graph = load_graph(project)
    paths = _project_paths(project, found.toplevel, found.paths())
    hit = affected_by(graph, paths, reader_at(project.root, found.base))
    tasks = graph.order(set(hit.tasks))
    if json:
        _print_json(
            {
                "ref": found.ref,
                "base": found.base,
                "changed": [
                    {"path": ch.path, "status": ch.status, "old_path": ch.old_path}
                    for ch in found.changes
                ],
                "tasks": {t: sorted(hit.tasks[t]) for t in tasks},
                "pipelines": hit.pipelines(graph),
                "removed_pipelines": hit.removed_pipelines,
                "images": hit.images(),
                "generated": hit.generated(graph),
                "services": {s: sorted(r) for s, r in sorted(hit.services.items())},
            }
        )
    else:
        _say(f"{len(found.changes)} changed file(s) since {found.ref} ({found.base[:12]})")
        for label, values in (
            ("pipelines", hit.pipelines(graph)),
            ("removed pipelines", hit.removed_pipelines),
            ("images", hit.images()),
            ("services", sorted(hit.services)),
            ("generated", hit.generated(graph)),
        ):
            if values:
                _say(f"{label}: {', '.join(values)}")
        for task in tasks:
            _say(f"  {task}  ← {', '.join(sorted(hit.tasks[task]))}")
        if not tasks:
            _say("nothing affected")
    if run and tasks:
        code = _run_doit(project, tasks)
        if code:
            raise Exit(code=code)


def _status_line(status: Any) -> str:
    reasons = "; ".join(status.reasons)
    return f"{status.task}: {status.state}" + (f" — {reasons}" if reasons else "")


def _ago(at: str, now: float) -> str:
    import calendar
    import time

    try:
        seconds = now - calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return at
    when = at.replace("T", " ").replace("Z", " UTC")
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{when} ({count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago)"
    return f"{when} (just now)"


def _last_run_line(status: Any, record: dict[str, Any] | None, now: float) -> str:
    if record is None:
        if status.never_run:
            return "last run: never ran here"
        return "last run: not recorded here (it ran before run records were kept)"
    outcome = {"ok": "ran ok"}.get(record.get("outcome"), record.get("outcome", "?"))
    detail = f" ({record['detail']})" if record.get("detail") else ""
    reasons = "; ".join(record.get("reasons") or [])
    because = f", because {reasons}" if reasons else ""
    return f"last run: {_ago(str(record.get('at', '?')), now)}, {outcome}{detail}{because}"


def _now_line(status: Any) -> str:
    reasons = "; ".join(status.reasons)
    if status.state == "up to date":
        return "now: up to date"
    verb = {"run": "would run", "may run": "may run", "error": "cannot run"}.get(
        status.state, status.state
    )
    return f"now: {verb}" + (f" because {reasons}" if reasons else "")


@command(
    name="why",
    positional=["task"],
    help={
        "task": "doit task name, e.g. dbt:orders or image:tools (a group like cdc: all its tasks)",
        "json": "print JSON (sorted keys) instead of lines",
    },
)
def why(c, task, json=False):
    """Why a doit task ran last time, and whether it would run now (and why).

    Last time: what `doit` recorded when it ran the task here (when, ran ok / failed /
    skipped, and the reasons doit had). Now: asked of doit's own dependency database
    (.doit.db) and up-to-date checks, without running or recording anything: input file
    added, removed or changed, a target missing, a generator version or config value changed,
    an image of the current fingerprint missing, never ran; and the upstream tasks it waits
    for that would run first."""
    import time

    from dataplatform.build.lastrun import read
    from dataplatform.graph.load import load_graph
    from dataplatform.graph.status import why as explain

    project = find_project()
    graph = load_graph(project)
    found = explain(graph, task)
    records = read(project.last_run_file)
    if json:
        _print_json(
            {
                "task": task,
                "statuses": [{**s.as_json(), "last_run": records.get(s.task)} for s in found],
            }
        )
        return
    asked = [s for s in found if s.task == task] or found
    others = [s for s in found if s not in asked]
    now = time.time()
    for status in asked:
        _say(status.task)
        _say("  " + _last_run_line(status, records.get(status.task), now))
        _say("  " + _now_line(status))
    for status in others:
        if status.state != "up to date":
            _say(f"  upstream {_status_line(status)}")


@command(
    name="graph",
    help={
        "format": "mermaid (paste into a pull request), dot (Graphviz) or json",
        "pipeline": "only this pipeline's tasks and what they wait for",
    },
)
def graph(c, format="mermaid", pipeline=None):
    """The doit task graph with each task's inputs.

    Nodes are tasks (and the services running built images), input folders and files; an edge
    runs from an input or an upstream task to the task that reads or waits for it."""
    from dataplatform.graph.load import load_graph
    from dataplatform.graph.render import render

    project = find_project()
    sys.stdout.write(render(load_graph(project), format, pipeline))
    sys.stdout.flush()


@command(
    name="plan",
    help={"json": "print JSON (sorted keys) instead of lines"},
)
def plan(c, json=False):
    """What `doit` would do and why, without doing it.

    Every task in run order with its state — run (and why), may run (an upstream runs first;
    whether its output changes decides), up to date — from doit's own dependency database."""
    from dataplatform.graph.load import load_graph
    from dataplatform.graph.status import statuses

    project = find_project()
    found = statuses(load_graph(project))
    summary: dict[str, int] = {}
    for status in found:
        summary[status.state] = summary.get(status.state, 0) + 1
    if json:
        _print_json({"tasks": [s.as_json() for s in found], "summary": summary})
        return
    for status in found:
        if status.state != "up to date":
            _say(_status_line(status))
    _say(", ".join(f"{n} {state}" for state, n in sorted(summary.items())) or "no tasks")


@command(
    name="watch",
    positional=["tasks"],
    help={
        "tasks": "only these tasks, comma-separated (a group like dbt names all its tasks; "
        "default: every task a save affects)"
    },
)
def watch(c, tasks=None):
    """Re-run the doit tasks a save affects, until Ctrl-C.

    Waits for file changes (OS file events through watchfiles, else polling), lets a burst of
    saves settle, runs exactly the affected tasks (and prints doit's output only when a run
    fails), one line per run. Ctrl-C stops it cleanly."""
    from dataplatform.graph import watch as watching
    from dataplatform.graph.load import load_graph

    project = find_project()
    wanted = [t.strip() for t in (tasks or "").split(",") if t.strip()]
    watching.selected(load_graph(project), wanted)  # an unknown task: one line, now
    _line(f"watching {project.root} — Ctrl-C stops")
    contents = watching.Contents(project.root)
    try:
        for paths in watching.changes(project):
            try:
                done = watching.run_once(project, paths, wanted, contents)
            except UserError as exc:  # a config broken mid-edit: say it, keep watching
                errors.print(f"✗ {exc}", markup=False, soft_wrap=True)
                continue
            if done.tasks:
                _line(done.line() + "\n" + done.output)
    except KeyboardInterrupt:
        pass
    _line("stopped")


@command(
    name="validate",
    help={"json": "print JSON (sorted keys) instead of lines"},
)
def validate(c, json=False):
    """Check every config of the repository at once and list ALL problems.

    services.yaml, the orchestration settings, every source group, every pipeline.yaml, CDC
    config and warehouse tables, and the pipeline templates' cookiecutter.json — one line per
    problem with file:line; exit code 1 when there is any (for CI). No engine, no dbt."""
    from dataplatform.graph.validate import validate as check

    project = find_project()
    problems = check(project)
    if json:
        _print_json({"problems": [p.as_json() for p in problems], "ok": not problems})
    else:
        for problem in problems:
            _say(problem.message)
    if problems:
        if not json:
            errors.print(
                f"✗ {len(problems)} problem(s) in {len({p.file for p in problems})} file(s)",
                markup=False,
            )
        raise Exit(code=1)
    if not json:
        _say("✓ every config is valid")
