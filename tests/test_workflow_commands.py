"""The monorepo workflow commands (`invoke affected / why / graph / plan / watch / validate`) on
throwaway git repositories made by tools/testing/synthetic_repo.py, through the real `invoke`
and `doit` entry points. Nothing here needs Docker or dbt: the dependency kinds are checked
through the task graph, `why` through CDC generation (which runs without an engine).

The synthetic repository (Shape below): pipelines p000…p007, each a dbt project using the
shared macros; CDC on p000 and p006 (group g0), p002 (g2), p004 (g1); images img0/img1 built
from platform/images/, each run by svc<i> and svc<i>-worker; p001, p004, p007 declare their own
image.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import synthetic_repo  # tools/testing, on pytest's pythonpath

from dataplatform.project import Project
from support import clean_env, executed, require_dbt_extra

SHAPE = synthetic_repo.Shape(
    pipelines=8,
    cdc_every=2,
    groups=3,
    tenants=2,
    tables=2,
    images=2,
    image_every=3,
    namespace="dptest-workflow",
)
ALL = [synthetic_repo.pipeline_name(i) for i in range(SHAPE.pipelines)]
INVOKE = str(Path(sys.executable).with_name("invoke"))


def run(root: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), cwd=root, env=clean_env(), capture_output=True, text=True, timeout=timeout
    )


def invoke(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run(root, INVOKE, *args)


def affected(root: Path, *args: str) -> dict:
    done = invoke(root, "affected", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def edit(root: Path, relpath: str, old: str, new: str) -> None:
    path = root / relpath
    text = path.read_text()
    assert old in text, f"{old!r} not in {relpath}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    root = tmp_path / "mono"
    synthetic_repo.generate(root, SHAPE)
    synthetic_repo.git_init(root)
    synthetic_repo.git_commit(root, "synthetic monorepo")
    return root


# --- affected: each dependency kind propagates --------------------------------------------------


def test_shared_macro_change_affects_every_dbt_pipeline(mono):
    edit(mono, "pipelines/shared/macros/cents.sql", "* 100", "* 1000")
    found = affected(mono)
    assert found["pipelines"] == ALL
    assert {f"dbt:{p}" for p in ALL} <= set(found["tasks"])
    assert not [t for t in found["tasks"] if t.startswith(("cdc:", "image:", "warehouse:"))]
    assert found["tasks"]["dbt:p003"] == ["pipelines/shared/macros/cents.sql"]


def test_source_group_change_affects_every_cdc_pipeline_on_it_and_only_those(mono):
    edit(mono, "platform/cdc/source-groups.yaml", "database: G0_T1", "database: G0_T1_new")
    found = affected(mono)
    assert found["pipelines"] == ["p000", "p006"]
    for pipeline in ("p000", "p006"):
        assert found["tasks"][f"cdc:{pipeline}"] == ["platform/cdc/source-groups.yaml"]
        assert found["tasks"][f"warehouse:{pipeline}"] == [
            "platform/cdc/source-groups.yaml",
            f"via cdc:{pipeline}",
        ]
        assert found["tasks"][f"dbt:{pipeline}"] == [f"via cdc:{pipeline}"]  # its staging
    assert "cdc:p002" not in found["tasks"] and "cdc:p004" not in found["tasks"]


def test_image_context_change_affects_every_service_using_it(mono):
    (mono / "platform/images/img1/entry.sh").write_text("echo changed\n")
    found = affected(mono)
    assert found["images"] == ["img1"]
    assert found["services"] == {"svc1": ["via image:img1"], "svc1-worker": ["via image:img1"]}
    assert found["pipelines"] == []


def test_one_service_edited_affects_that_service_and_its_image_only(mono):
    edit(mono, "platform/services.yaml", 'command: ["true"]', 'command: ["sleep", "1"]')
    found = affected(mono)  # the first command is svc0's
    assert found["images"] == ["img0"]
    assert sorted(found["services"]) == ["svc0", "svc0-worker"]


def test_template_change_affects_everything_rendered_from_it(mono):
    template = next((mono / "templates/cdc").glob("*.j2"))
    template.write_text(template.read_text() + "\n-- changed\n")
    found = affected(mono)
    cdc = {f"cdc:{p}" for p in ("p000", "p002", "p004", "p006")}
    assert cdc <= set(found["tasks"])
    assert found["pipelines"] == ["p000", "p002", "p004", "p006"]
    warehouse = next((mono / "templates/warehouse").glob("*.j2"))
    warehouse.write_text(warehouse.read_text() + "\n-- changed\n")
    found = affected(mono)
    assert {f"warehouse:{p}" for p in ("p000", "p002", "p004", "p006")} <= set(found["tasks"])


def test_pipeline_image_context_affects_that_pipeline_image(mono):
    (mono / "pipelines/p004/image/job.sh").write_text("echo new\n")
    found = affected(mono)
    assert found["images"] == ["p004-worker"]
    assert found["pipelines"] == ["p004"]


def test_affected_run_runs_exactly_the_affected_tasks(mono):
    template = next((mono / "templates/warehouse").glob("*.j2"))
    template.write_text(template.read_text() + "\n-- changed\n")
    done = invoke(mono, "affected", "--run")
    assert done.returncode == 0, done.stdout + done.stderr
    ran = executed(done)
    # the warehouse DDL of the CDC pipelines, after the CDC generation they wait for (task_dep)
    assert executed(done, "warehouse:") == [
        f"warehouse:{p}" for p in ("p000", "p002", "p004", "p006")
    ]
    assert not [t for t in ran if t.startswith(("dbt:", "image:"))]
    assert (mono / "pipelines/p002/generated/warehouse").is_dir()
    assert not (mono / "pipelines/p001/generated").exists()


def test_affected_outside_git_says_so(tmp_path):
    root = tmp_path / "plain"
    synthetic_repo.generate(root, SHAPE)
    done = invoke(root, "affected")
    assert done.returncode == 1
    assert "not a git repository" in done.stderr and "Traceback" not in done.stderr


# --- renames, deletions, refs ------------------------------------------------------------------


def test_committed_renames_deletions_and_untracked_files_count(mono):
    synthetic_repo.git(mono, "checkout", "-q", "-b", "feature")
    synthetic_repo.git(
        mono,
        "mv",
        "pipelines/p003/dbt/models/marts/orders.sql",
        "pipelines/p003/dbt/models/marts/orders_renamed.sql",
    )
    synthetic_repo.git(mono, "rm", "-q", "pipelines/p005/dbt/models/marts/orders.sql")
    synthetic_repo.git(mono, "rm", "-q", "-r", "pipelines/p007")
    synthetic_repo.git(mono, "commit", "-q", "-m", "rename, delete")
    (mono / "pipelines/p001/dbt/models/marts/new_model.sql").write_text("select 1\n")
    found = affected(mono)  # default: the merge base with main
    assert found["ref"] == "main"
    changes = {c["path"]: c for c in found["changed"]}
    assert changes["pipelines/p003/dbt/models/marts/orders_renamed.sql"] == {
        "path": "pipelines/p003/dbt/models/marts/orders_renamed.sql",
        "status": "renamed",
        "old_path": "pipelines/p003/dbt/models/marts/orders.sql",
    }
    assert changes["pipelines/p005/dbt/models/marts/orders.sql"]["status"] == "deleted"
    assert changes["pipelines/p001/dbt/models/marts/new_model.sql"]["status"] == "added"
    assert {"dbt:p001", "dbt:p003", "dbt:p005"} <= set(found["tasks"])
    assert found["removed_pipelines"] == ["p007"]
    assert found["pipelines"] == ["p001", "p003", "p005", "p007"]
    assert "dbt:p000" not in found["tasks"]


def test_since_an_unknown_ref_is_one_line(mono):
    done = invoke(mono, "affected", "--since", "no-such-branch")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "--since no-such-branch" in done.stderr
    assert "Traceback" not in done.stderr


def test_shallow_clone_says_what_to_fetch(mono, tmp_path):
    first = synthetic_repo.git(mono, "rev-parse", "HEAD").strip()
    edit(mono, "pipelines/p002/dbt/models/marts/orders.sql", "share", "part")
    synthetic_repo.git_commit(mono, "second")
    clone = tmp_path / "clone"
    done = run(tmp_path, "git", "clone", "-q", "--depth", "1", f"file://{mono}", str(clone))
    assert done.returncode == 0, done.stderr
    missing = invoke(clone, "affected", "--since", first)
    assert missing.returncode == 1
    assert "shallow clone" in missing.stderr and "git fetch --deepen" in missing.stderr
    assert "--unshallow" in missing.stderr and "Traceback" not in missing.stderr
    run(clone, "git", "fetch", "-q", "--unshallow")
    found = affected(clone, "--since", first)
    assert found["tasks"] == {"dbt:p002": ["pipelines/p002/dbt/models/marts/orders.sql"]}


def test_shallow_single_branch_clone_without_the_default_branch_says_what_to_fetch(mono, tmp_path):
    """What CI checks out for a pull request: its branch only, one commit deep."""
    synthetic_repo.git(mono, "checkout", "-q", "-b", "feature")
    edit(mono, "pipelines/p002/dbt/models/marts/orders.sql", "share", "part")
    synthetic_repo.git_commit(mono, "feature work")
    synthetic_repo.git(mono, "checkout", "-q", "main")  # the origin's default branch
    clone = tmp_path / "ci"
    done = run(
        tmp_path,
        "git",
        "clone",
        "-q",
        "--depth",
        "1",
        "--single-branch",
        "--branch",
        "feature",
        f"file://{mono}",
        str(clone),
    )
    assert done.returncode == 0, done.stderr
    missing = invoke(clone, "affected")
    assert missing.returncode == 1
    assert "default branch" in missing.stderr and "git fetch --deepen" in missing.stderr
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    fetch = missing.stderr.split("`")[1]  # the command it names works
    assert run(clone, *fetch.split()).returncode == 0
    found = affected(clone)
    assert found["ref"] == "origin/main"
    assert found["tasks"] == {"dbt:p002": ["pipelines/p002/dbt/models/marts/orders.sql"]}


# --- JSON is stable (snapshot) ------------------------------------------------------------------

AFFECTED_SNAPSHOT = """{
  "base": "<base>",
  "changed": [
    {
      "old_path": null,
      "path": "pipelines/p003/dbt/models/marts/orders.sql",
      "status": "modified"
    }
  ],
  "generated": [],
  "images": [],
  "pipelines": [
    "p003"
  ],
  "ref": "main",
  "removed_pipelines": [],
  "services": {},
  "tasks": {
    "dbt:p003": [
      "pipelines/p003/dbt/models/marts/orders.sql"
    ]
  }
}
"""


def test_affected_json_snapshot(mono):
    edit(mono, "pipelines/p003/dbt/models/marts/orders.sql", "share", "part")
    base = synthetic_repo.git(mono, "rev-parse", "HEAD").strip()
    first = invoke(mono, "affected", "--json")
    second = invoke(mono, "affected", "--json")
    assert first.stdout == second.stdout
    assert first.stdout.replace(base, "<base>") == AFFECTED_SNAPSHOT


def test_graph_json_is_sorted_and_stable_and_mermaid_names_inputs(mono):
    first = invoke(mono, "graph", "--format", "json", "--pipeline", "p004")
    assert first.returncode == 0, first.stderr
    assert first.stdout == invoke(mono, "graph", "--format", "json", "--pipeline", "p004").stdout
    data = json.loads(first.stdout)
    assert first.stdout == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert sorted(data["tasks"]) == ["cdc:p004", "dbt:p004", "image:p004-worker", "warehouse:p004"]
    assert data["tasks"]["dbt:p004"]["upstream"] == ["cdc:p004"]
    assert "pipelines/shared/macros" in data["tasks"]["dbt:p004"]["inputs"]["trees"]
    mermaid = invoke(mono, "graph", "--pipeline", "p004").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert '"pipelines/shared/macros/"' in mermaid and '"cdc:p004"' in mermaid
    dot = invoke(mono, "graph", "--format", "dot").stdout
    assert dot.startswith("digraph tasks {") and '"service svc0"' in dot
    bad = invoke(mono, "graph", "--format", "png")
    assert bad.returncode == 1 and "--format png" in bad.stderr


# --- why and plan: doit's own dependency database -----------------------------------------------


def test_why_changed_unchanged_and_never_run(mono):
    done = run(mono, sys.executable, "-m", "doit", "cdc:p000")
    assert done.returncode == 0, done.stdout + done.stderr
    current = json.loads(invoke(mono, "why", "cdc:p000", "--json").stdout)["statuses"]
    assert [(s["task"], s["state"], s["never_run"], s["reasons"]) for s in current] == [
        ("cdc:p000", "up to date", False, [])
    ]
    lines = invoke(mono, "why", "cdc:p000").stdout.splitlines()
    assert lines[0] == "cdc:p000" and lines[2] == "  now: up to date"

    edit(mono, "pipelines/p000/config/cdc.yaml", "Col0", "Renamed0")
    changed = json.loads(invoke(mono, "why", "cdc:p000", "--json").stdout)["statuses"][0]
    assert changed["state"] == "run" and not changed["never_run"]
    assert [r for r in changed["reasons"] if "pipelines/p000/config/cdc.yaml" in r] == changed[
        "reasons"
    ], changed  # the one input edited, named

    synthetic_repo.git(mono, "checkout", "-q", "--", "pipelines/p000/config/cdc.yaml")
    edit(mono, "platform/cdc/source-groups.yaml", "database: G0_T1", "database: G0_T1_new")
    group = json.loads(invoke(mono, "why", "cdc:p000", "--json").stdout)["statuses"][0]
    assert group["state"] == "run"
    assert any("platform/cdc/source-groups.yaml" in r for r in group["reasons"]), group

    never = json.loads(invoke(mono, "why", "cdc:p006", "--json").stdout)["statuses"][0]
    assert never["state"] == "run" and never["never_run"]
    assert never["reasons"][0].startswith("never ran")

    unknown = invoke(mono, "why", "cdcc:p002")
    assert unknown.returncode == 1 and "did you mean 'cdc:p002'?" in unknown.stderr


@pytest.mark.docker
def test_why_an_image_missing_from_the_engine(mono, docker_client):
    """A real engine answers whether an image of the context's fingerprint exists."""
    found = json.loads(invoke(mono, "why", "image:img0", "--json").stdout)["statuses"][0]
    assert found["state"] == "run"
    assert any(r.startswith("image missing: img0:") for r in found["reasons"]), found


def test_why_and_plan_write_no_dependency_database(mono):
    assert invoke(mono, "why", "cdc:p000").returncode == 0
    assert invoke(mono, "plan").returncode == 0
    assert not list(mono.glob(".doit.db*"))
    assert not Project(mono).last_run_file.exists()  # nor a run record


def test_plan_json_lists_every_task_with_its_state(mono):
    done = run(mono, sys.executable, "-m", "doit", "cdc:p000")
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(invoke(mono, "plan", "--json").stdout)
    states = {t["task"]: t for t in plan["tasks"]}
    assert states["cdc:p000"]["state"] == "up to date"
    assert states["cdc:p002"]["state"] == "run" and states["cdc:p002"]["never_run"]
    order = [t["task"] for t in plan["tasks"]]
    assert order.index("cdc:p002") < order.index("dbt:p002")  # upstream first
    assert sum(plan["summary"].values()) == len(plan["tasks"])


# --- why: the last run, recorded while doit runs -----------------------------------------------


def doit(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run(root, sys.executable, "-m", "doit", *args)


def last_run(root: Path, task: str) -> dict | None:
    done = invoke(root, "why", task, "--json")
    assert done.returncode == 0, done.stderr
    return next(s for s in json.loads(done.stdout)["statuses"] if s["task"] == task)["last_run"]


def why_lines(root: Path, task: str) -> list[str]:
    done = invoke(root, "why", task)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_why_names_the_edited_model_as_last_run_reason_and_a_no_op_keeps_it(mono):
    """Real dbt on DuckDB builds p003 (no CDC, no image), a model is edited, doit runs it."""
    require_dbt_extra()
    model = "pipelines/p003/dbt/models/marts/orders.sql"
    assert executed(doit(mono, "dbt:p003")) == ["dbt:p003"]
    edit(mono, model, "share", "part")
    assert executed(doit(mono, "dbt:p003")) == ["dbt:p003"]
    record = last_run(mono, "dbt:p003")
    assert record["outcome"] == "ok" and record["detail"] is None, record
    assert record["reasons"] == [f"input changed: {model}"]
    lines = why_lines(mono, "dbt:p003")
    assert lines[1].startswith("  last run: ") and " UTC (" in lines[1]
    assert lines[1].endswith(f", ran ok, because input changed: {model}"), lines
    assert lines[2] == "  now: up to date"

    written = Project(mono).last_run_file.stat()
    again = doit(mono, "dbt:p003")
    assert again.returncode == 0 and executed(again) == [], again.stdout
    after = Project(mono).last_run_file.stat()  # a no-op does not write the record
    assert (after.st_ino, after.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert last_run(mono, "dbt:p003") == record  # still names the change


def test_why_records_failed_skipped_and_forced_runs_and_a_fresh_checkout_never_ran(mono, tmp_path):
    assert why_lines(mono, "cdc:p000")[1] == "  last run: never ran here"
    assert last_run(mono, "cdc:p000") is None
    record_file = Project(mono).last_run_file
    record_file.parent.mkdir(parents=True, exist_ok=True)
    record_file.write_text('{"version": 1, "tasks": {"cdc:p0')  # cut off mid-write by hand
    assert why_lines(mono, "cdc:p000")[1] == "  last run: never ran here"

    edit(mono, "pipelines/p000/config/cdc.yaml", "Col0: ", "Col0: notatype ")
    failed = doit(mono, "--continue", "cdc:p000", "warehouse:p000")
    assert failed.returncode != 0
    record = last_run(mono, "cdc:p000")
    assert record["outcome"] == "failed", record
    assert record["detail"].startswith("pipelines/p000/config/cdc.yaml:8: ")
    assert "unknown SQL Server type" in record["detail"]
    assert record["reasons"] == ["never ran successfully (no record in the dependency database)"]
    line = why_lines(mono, "cdc:p000")[1]
    assert (
        line.startswith("  last run: ")
        and ", failed (pipelines/p000/config/cdc.yaml:8: " in line
        and "because never ran" in line
    ), line
    waiting = last_run(mono, "warehouse:p000")  # its upstream failed: doit did not run it
    assert waiting["outcome"] == "skipped", waiting
    assert waiting["detail"] == "not run: it needs cdc:p000, which failed"

    synthetic_repo.git(mono, "checkout", "-q", "--", "pipelines/p000/config/cdc.yaml")
    assert executed(doit(mono, "cdc:p000")) == ["cdc:p000"]
    assert last_run(mono, "cdc:p000")["outcome"] == "ok"
    next((mono / "pipelines/p000/generated/cdc").rglob("*.yaml")).unlink()
    assert executed(doit(mono, "cdc:p000")) == ["cdc:p000"]
    assert last_run(mono, "cdc:p000")["reasons"] == [
        "a generated file was edited or deleted since the last run"
    ]
    forced = doit(mono, "--always-execute", "cdc:p000")
    assert executed(forced) == ["cdc:p000"], forced.stdout
    assert last_run(mono, "cdc:p000")["reasons"] == [
        "forced: run although up to date (doit --always-execute)"
    ]

    clone = tmp_path / "fresh"
    done = run(tmp_path, "git", "clone", "-q", str(mono), str(clone))
    assert done.returncode == 0, done.stderr
    assert why_lines(clone, "cdc:p000")[1:] == [
        "  last run: never ran here",
        "  now: would run because never ran successfully (no record in the dependency database)",
    ]


WHY_SNAPSHOT = """{
  "statuses": [
    {
      "last_run": {
        "at": "<at>",
        "detail": null,
        "outcome": "ok",
        "reasons": [
          "YAML content changed: pipelines/p000/config/cdc.yaml"
        ],
        "seconds": <seconds>
      },
      "never_run": false,
      "reasons": [],
      "state": "up to date",
      "task": "cdc:p000"
    }
  ],
  "task": "cdc:p000"
}
"""


def test_why_json_snapshot(mono):
    import re

    assert executed(doit(mono, "cdc:p000")) == ["cdc:p000"]
    edit(mono, "pipelines/p000/config/cdc.yaml", "Col0", "Renamed0")
    assert executed(doit(mono, "cdc:p000")) == ["cdc:p000"]
    first = invoke(mono, "why", "cdc:p000", "--json").stdout
    assert first == invoke(mono, "why", "cdc:p000", "--json").stdout
    first = re.sub(r'"at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', '"at": "<at>"', first)
    assert re.sub(r'"seconds": \d+\.\d+', '"seconds": <seconds>', first) == WHY_SNAPSHOT


def test_recording_the_reasons_leaves_doits_decision_as_it_was(tmp_path):
    """doit's own Dependency and Task in-process: the recorder asks doit for its log of
    reasons, and doit must still decide (status, `dep_changed`) as without the log."""
    from doit.dependency import Dependency, SqliteDB
    from doit.task import Task

    from dataplatform.build.lastrun import Recorder

    a, b, target = tmp_path / "a", tmp_path / "b", tmp_path / "out"

    def case(uptodate: bool | None, change_a: bool, remove_b: bool, remove_target: bool):
        for path in (a, b, target):
            path.write_text("x")
        task = Task(
            "t", None, file_dep=[str(a), str(b)], targets=[str(target)], uptodate=[uptodate]
        )
        db = Dependency(SqliteDB, str(tmp_path / f"db{len(seen)}"))
        db.save_success(task)
        if change_a:
            a.write_text("changed")
        if remove_b:
            b.unlink()
        if remove_target:
            target.unlink()
        plain = db.get_status(task, {})
        expected = (plain.status, sorted(task.dep_changed))
        recorder = Recorder(db, tmp_path)
        recorder.install()
        found = db.get_status(task, {})
        seen.append(((uptodate, change_a, remove_b, remove_target), expected))
        assert (found.status, sorted(task.dep_changed)) == expected, seen[-1]
        if found.status != "up-to-date":
            assert recorder.pending["t"], seen[-1]

    seen: list = []
    for uptodate in (None, False):
        for change_a in (False, True):
            for remove_b in (False, True):
                for remove_target in (False, True):
                    case(uptodate, change_a, remove_b, remove_target)
    assert {expected[0] for _, expected in seen} == {"up-to-date", "run", "error"}


# --- validate -----------------------------------------------------------------------------------


def test_validate_lists_every_problem_across_files(mono):
    assert invoke(mono, "validate").returncode == 0
    edit(mono, "platform/services.yaml", "  postgres:\n", "  postgres:\n    imagee: x\n")
    edit(mono, "pipelines/p001/pipeline.yaml", "owner: bench", "owner: bench\ncolour: red")
    edit(mono, "pipelines/p002/config/cdc.yaml", "Col0: ", "Col0: notatype ")
    edit(mono, "pipelines/p003/pipeline.yaml", "owner: bench", "owner: [bench")
    edit(
        mono, "platform/cdc/source-groups.yaml", "pattern: db-per-tenant", "pattern: db-per-galaxy"
    )
    (mono / "platform/orchestration").mkdir(parents=True)
    (mono / "platform/orchestration/orchestration.yaml").write_text("airflw: {}\n")
    edit(mono, "pipelines/_templates/dbt/cookiecutter.json", "{", "{,")
    done = invoke(mono, "validate")
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    files = [
        "pipelines/_templates/dbt/cookiecutter.json",
        "pipelines/p001/pipeline.yaml",
        "pipelines/p002/config/cdc.yaml",
        "pipelines/p003/pipeline.yaml",
        "platform/cdc/source-groups.yaml",
        "platform/orchestration/orchestration.yaml",
        "platform/services.yaml",
    ]
    for file in files:
        assert any(
            line.startswith(f"{file}:") and line[len(file) + 1].isdigit() for line in lines
        ), (file, lines)
    assert "Traceback" not in done.stderr and "problem(s)" in done.stderr
    data = json.loads(invoke(mono, "validate", "--json").stdout)
    assert data["ok"] is False
    assert sorted({p["file"] for p in data["problems"]}) == files
    assert all(p["line"] for p in data["problems"])


# --- watch -------------------------------------------------------------------------------------


def test_polling_fallback_reports_a_saved_file(mono):
    """The fallback used where watchfiles is not installed, driven in-process."""
    import threading

    from dataplatform.graph import watch as watching
    from dataplatform.project import Project

    stop = threading.Event()
    target = mono / "pipelines/p003/dbt/models/marts/orders.sql"
    timer = threading.Timer(1.0, lambda: target.write_text("select 2\n"))
    timer.start()
    try:
        changes = watching._changes_polling(Project(mono), stop.is_set)
        first = next(changes)
    finally:
        stop.set()
        timer.cancel()
    assert first == {"pipelines/p003/dbt/models/marts/orders.sql"}
    done = watching.run_once(Project(mono), first, ["cdc"])
    assert done.tasks == ()  # a model is no input of any cdc task: nothing runs


def _read_until(process: subprocess.Popen, needle: str, deadline: float) -> str:
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never printed; got:\n{seen}")


def test_watch_runs_affected_task_once_per_save_and_stops_cleanly_on_sigint(mono):
    process = subprocess.Popen(
        [INVOKE, "watch", "cdc"],
        cwd=mono,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _read_until(process, "watching", time.monotonic() + 60)
        time.sleep(1)  # the watcher is set up right after the line
        edit(mono, "pipelines/p002/config/cdc.yaml", "Col0", "Renamed0")
        output = _read_until(process, "cdc:p002", time.monotonic() + 120)
        run_lines = [line for line in output.splitlines() if "→" in line]
        assert len(run_lines) == 1 and run_lines[0].endswith(" s")
        assert "pipelines/p002/config/cdc.yaml → cdc:p002: ok" in run_lines[0]
        assert (mono / "pipelines/p002/generated/cdc").is_dir()
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "stopped" in out
    assert "cdc:p002" not in out  # one save, one run: its own output did not trigger another
