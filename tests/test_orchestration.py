"""Orchestration through doit with a real Airflow: generated cosmos DAGs over the dbt manifest,
validated by a real DagBag in the managed environment (Airflow 2.10, and 3.3 where DagBag
moved), incrementally; every kind of bad DAG reported as one line naming pipeline and file; and
the assembled dags folder.

The managed environments are shared by every test (DATAPLATFORM_ENVS_DIR, see conftest), so
each lock is installed once per machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support import REPO, clean_env, copy_from_checkout, executed, run

GOOD_DAG = """\
from datetime import datetime
from airflow import DAG
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1), schedule=None, tags=["hand"],
         default_args={{"retries": 1}}):
    EmptyOperator(task_id="hello")
"""


class Checkout:
    def __init__(self, root: Path):
        self.root = root

    def doit(self, *args: str) -> subprocess.CompletedProcess:
        return run([sys.executable, "-m", "doit", *args], self.root)

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def pipeline(self, name: str, section: str = "  tags: [t]\n  dbt: false\n") -> Path:
        """A pipeline without a dbt project: its DAG is just the generated `start` task."""
        return self.write(
            f"pipelines/{name}/pipeline.yaml",
            f"name: {name}\nowner: team\norchestration:\n{section}",
        )

    def invoke(self, *args: str) -> subprocess.CompletedProcess:
        return run([str(Path(sys.executable).with_name("invoke")), *args], self.root)


def _checkout(root: Path, lock: str | None = None) -> Checkout:
    root.mkdir(parents=True)
    for name in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / name, root / name)
    for part in (
        "templates",
        "platform/orchestration",
        "pipelines/_templates",
        "pipelines/shared",
        "pipelines/stavanger_parking",
    ):
        copy_from_checkout(part, root)
    if lock:
        settings = root / "platform/orchestration/orchestration.yaml"
        settings.write_text(settings.read_text().replace("locks/airflow-2.10.txt", lock))
    return Checkout(root)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[Checkout]:
    checkout = _checkout(tmp_path_factory.mktemp("orch") / "checkout")
    # both templates render a pipeline whose orchestration validates at once
    assert checkout.invoke("create-pipeline", "alpha").returncode == 0
    assert checkout.invoke("create-pipeline", "omega", "--template", "cdc").returncode == 0
    first = checkout.doit("dags")
    assert first.returncode == 0, first.stdout + first.stderr
    assert executed(first) == [
        "dags",
        "dbt-manifest:alpha",
        "dbt-manifest:omega",
        "dbt-manifest:stavanger_parking",
        "orchestration:alpha",
        "orchestration:omega",
        "orchestration:stavanger_parking",
        "validate:alpha",
        "validate:omega",
        "validate:stavanger_parking",
    ]
    yield checkout


def _loaded(checkout: Checkout, relpath: str) -> dict:
    """What a real DagBag sees in one file (the checker's own result)."""
    from dataplatform.orchestration import validate
    from dataplatform.orchestration.spec import load_settings
    from dataplatform.project import Project

    project = Project(checkout.root)
    seen = validate.load(project, load_settings(project), "airflow", [checkout.root / relpath])
    [entry] = seen["files"]
    return entry


def test_the_example_dag_has_one_task_per_model(repo: Checkout) -> None:
    entry = _loaded(repo, "platform/orchestration/dags/stavanger_parking/stavanger_parking_dag.py")
    assert entry["import_error"] is None
    [dag] = entry["dags"]
    assert dag["dag_id"] == "stavanger_parking"
    assert dag["tags"] == ["mobility", "parking"]
    tasks = {t["task_id"]: t for t in dag["tasks"]}
    for model in (
        "stg_parking__occupancy",
        "dim_facilities",
        "fct_hourly_occupancy",
        "mart_zone_daily_peak",
    ):
        assert f"dbt.{model}.run" in tasks and f"dbt.{model}.test" in tasks
    assert {"dbt.parking_occupancy_seed", "dbt.parking_facilities_seed", "start"} <= set(tasks)
    # a test of two models (relationships) waits for both, however the scheduler orders them
    [relationship] = [t for t in tasks if t.startswith("dbt.relationships_fct_hourly")]
    upstream = " ".join(tasks[relationship]["upstream"])
    assert "fct_hourly_occupancy" in upstream and "dim_facilities" in upstream, upstream
    assert {t["retries"] for t in tasks.values()} == {2}
    assert {t["owner"] for t in tasks.values()} == {"mobility-data"}
    assert "0 6 * * *" in dag["schedule"]

    result = json.loads(
        (repo.root / "pipelines/stavanger_parking/build/orchestration/validation.json").read_text()
    )
    assert result["engine_version"].startswith("2.10")
    assert result["dags"] == [
        {
            "dag_id": "stavanger_parking",
            "file": "pipelines/stavanger_parking/generated/orchestration/stavanger_parking_dag.py",
        }
    ]
    # the generated profile carries no literal secret: connections come from the environment
    profiles = repo.root / "pipelines/stavanger_parking/generated/orchestration/profiles.yml"
    outputs = yaml.safe_load(profiles.read_text())["stavanger_parking"]["outputs"]
    assert outputs["postgres"]["password"] == "{{ env_var('POSTGRES_PASSWORD') }}"
    assert (
        outputs["duckdb"]["path"]
        == "{{ env_var('DATAPLATFORM_WAREHOUSE_DIR') }}/stavanger_parking.duckdb"
    )


def test_a_no_op_runs_nothing_and_a_change_revalidates_one_pipeline(repo: Checkout) -> None:
    again = repo.doit("dags")
    assert again.returncode == 0 and executed(again) == [], again.stdout

    hand = repo.write(
        "pipelines/alpha/orchestration/backfill.py", GOOD_DAG.format(dag_id="alpha_backfill")
    )
    added = repo.doit("dags")
    assert added.returncode == 0, added.stdout
    assert executed(added) == ["dags", "validate:alpha"]
    assert (
        repo.root / "platform/orchestration/dags/alpha/backfill.py"
    ).read_text() == hand.read_text()

    hand.write_text(hand.read_text().replace("hello", "hello_again"))
    assert executed(repo.doit("dags")) == ["dags", "validate:alpha"]

    # a change to pipeline.yaml that leaves the DAG as it was stops at the generator
    manifest = repo.root / "pipelines/alpha/pipeline.yaml"
    manifest.write_text(manifest.read_text() + "# reviewed by the team\n")
    changed = repo.doit("dags")
    assert executed(changed) == ["orchestration:alpha"], changed.stdout

    # a comment in a dbt schema file is not a change at all
    schema_file = repo.root / "pipelines/alpha/dbt/models/staging/_stg_events.yml"
    schema_file.write_text(schema_file.read_text() + "# a comment\n")
    assert executed(repo.doit("dags")) == []

    # a dbt input that changes without changing the manifest stops at dbt-manifest
    notes = repo.root / "pipelines/alpha/dbt/models/staging/notes.md"
    notes.write_text("Plain notes: no docs block, so nothing dbt records.\n")
    same = repo.doit("dags")
    assert executed(same) == ["dbt-manifest:alpha"], same.stdout
    assert "dbt-manifest:alpha: manifest unchanged" in same.stdout

    hand.unlink()
    removed = repo.doit("dags")
    assert executed(removed) == ["dags", "validate:alpha"]
    assert not (repo.root / "platform/orchestration/dags/alpha/backfill.py").exists()


def _one_problem(result: subprocess.CompletedProcess, task: str) -> str:
    assert result.returncode != 0, result.stdout
    out = result.stdout
    assert f"✗ {task}: 1 problem" in out, out + result.stderr
    assert "Traceback" not in out + result.stderr
    lines = out.splitlines()
    return lines[lines.index(f"✗ {task}: 1 problem") + 1].strip()


@pytest.fixture
def scratch(repo: Checkout) -> Iterator[Checkout]:
    """Pipelines a test adds are removed afterwards, so the shared checkout stays valid."""
    before = {p.name for p in (repo.root / "pipelines").iterdir()}
    yield repo
    for path in (repo.root / "pipelines").iterdir():
        if path.name not in before:
            shutil.rmtree(path)


def test_a_broken_import_is_one_line(scratch: Checkout) -> None:
    scratch.pipeline("beta")
    scratch.write(
        "pipelines/beta/orchestration/broken.py",
        "from airflow import DAG\nimport not_a_module_anywhere\n",
    )
    line = _one_problem(scratch.doit("validate:beta"), "validate:beta")
    assert line == (
        "pipelines/beta/orchestration/broken.py:2: import error: "
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    )
    assert not (scratch.root / "pipelines/beta/build/orchestration/validation.json").exists()


def test_a_file_airflow_would_silently_skip_is_reported(scratch: Checkout) -> None:
    scratch.pipeline("gamma")
    scratch.write(
        "pipelines/gamma/orchestration/job.py",
        "from my_factory import build\nflow = build('gamma')\n",
    )
    line = _one_problem(scratch.doit("validate:gamma"), "validate:gamma")
    assert line == (
        "pipelines/gamma/orchestration/job.py: Airflow would skip this file: it "
        "never mentions both 'airflow' and 'dag' (DagBag safe mode) — import DAG "
        "from airflow in it, or name it _job.py if it is a helper module"
    )


def test_a_dag_id_two_pipelines_share_stops_the_assembly(scratch: Checkout) -> None:
    scratch.pipeline("delta")
    scratch.write(
        "pipelines/delta/orchestration/copy.py", GOOD_DAG.format(dag_id="stavanger_parking")
    )
    result = scratch.doit("dags")
    assert result.returncode != 0
    assert (
        "✗ dags: pipelines/stavanger_parking/generated/orchestration/"
        "stavanger_parking_dag.py: dag_id 'stavanger_parking' is also defined in "
        "pipelines/delta/orchestration/copy.py — dag_ids must be unique across all "
        "pipelines"
    ) in result.stdout, result.stdout
    assert not (scratch.root / "platform/orchestration/dags/delta").exists()


def test_policies_are_enforced_with_the_place_to_fix(scratch: Checkout) -> None:
    scratch.pipeline("epsilon", "  dbt: false\n  retries: 0\n  tags: [t]\n")
    line = _one_problem(scratch.doit("validate:epsilon"), "validate:epsilon")
    assert line == (
        "pipelines/epsilon/pipeline.yaml (orchestration): DAG 'epsilon': task "
        "start retries fewer than 1 (platform/orchestration/orchestration.yaml "
        "policies.min_retries) — set retries to 1 or more"
    )

    scratch.pipeline("zeta", "  dbt: false\n")
    line = _one_problem(scratch.doit("validate:zeta"), "validate:zeta")
    assert line == (
        "pipelines/zeta/pipeline.yaml (orchestration): DAG 'zeta' has no tags "
        "(platform/orchestration/orchestration.yaml policies.require_tags) — add "
        "tags"
    )


def test_extra_tasks_run_in_their_place(scratch: Checkout) -> None:
    scratch.pipeline(
        "eta",
        "  dbt: false\n  tags: [t]\n  tasks:\n"
        "    - {id: extract, bash: scripts/extract.sh, after: start}\n"
        "    - {id: notify, bash: 'echo done', after: extract}\n",
    )
    result = scratch.doit("validate:eta")
    assert result.returncode == 0, result.stdout
    entry = _loaded(scratch, "pipelines/eta/generated/orchestration/eta_dag.py")
    assert [t["task_id"] for t in entry["dags"][0]["tasks"]] == ["start", "extract", "notify"]


@pytest.fixture(scope="module")
def airflow3(tmp_path_factory) -> Checkout:
    return _checkout(tmp_path_factory.mktemp("orch3") / "checkout", "locks/airflow-3.3.txt")


def test_airflow_3_validates_with_its_own_dagbag(airflow3: Checkout) -> None:
    result = airflow3.doit("dags")
    assert result.returncode == 0, result.stdout + result.stderr
    validation = json.loads(
        (
            airflow3.root / "pipelines/stavanger_parking/build/orchestration/validation.json"
        ).read_text()
    )
    assert validation["engine_version"].startswith("3.3")
    assert validation["dags"][0]["dag_id"] == "stavanger_parking"

    airflow3.pipeline("beta")
    airflow3.write(
        "pipelines/beta/orchestration/broken.py",
        "from airflow import DAG\nraise RuntimeError('boom at parse time')\n",
    )
    line = _one_problem(airflow3.doit("validate:beta"), "validate:beta")
    assert line == (
        "pipelines/beta/orchestration/broken.py:2: import error: RuntimeError: boom at parse time"
    )


@pytest.fixture(scope="module")
def dagster_repo(tmp_path_factory) -> Checkout:
    checkout = _checkout(tmp_path_factory.mktemp("orchdg") / "checkout")
    manifest = checkout.root / "pipelines/stavanger_parking/pipeline.yaml"
    manifest.write_text(
        manifest.read_text().replace("orchestration:\n", "orchestration:\n  engine: dagster\n")
    )
    return checkout


def test_dagster_definitions_load_and_materialize_on_duckdb(
    dagster_repo: Checkout, tmp_path: Path
) -> None:
    import duckdb

    result = dagster_repo.doit("dags")
    assert result.returncode == 0, result.stdout + result.stderr
    pipeline = dagster_repo.root / "pipelines/stavanger_parking"
    validation = json.loads((pipeline / "build/orchestration/validation.json").read_text())
    assert validation["engine"] == "dagster"
    assert validation["dags"] == [
        {
            "dag_id": "stavanger_parking",
            "file": "pipelines/stavanger_parking/generated/orchestration/definitions.py",
        }
    ]
    workspace = yaml.safe_load(
        (dagster_repo.root / "platform/orchestration/dagster/workspace.yaml").read_text()
    )
    [location] = workspace["load_from"]
    assert location["python_file"]["location_name"] == "stavanger_parking"
    assert (
        dagster_repo.root
        / "platform/orchestration/dagster"
        / location["python_file"]["relative_path"]
    ).resolve() == pipeline / "generated/orchestration/definitions.py"
    assert not (dagster_repo.root / "platform/orchestration/dags").exists()

    from dataplatform import envs
    from dataplatform.orchestration.spec import load_settings
    from dataplatform.project import Project

    project = Project(dagster_repo.root)
    python = envs.ensure(project, "dagster", load_settings(project).locks["dagster"])
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    env = {
        **clean_env(),
        "DAGSTER_HOME": str(tmp_path),
        "DATAPLATFORM_WAREHOUSE_DIR": str(warehouse),
    }
    done = run(
        [
            str(python.with_name("dagster")),
            "asset",
            "materialize",
            "-f",
            str(pipeline / "generated/orchestration/definitions.py"),
            "--select",
            "*",
        ],
        dagster_repo.root,
        env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with duckdb.connect(str(warehouse / "stavanger_parking.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from fct_hourly_occupancy").fetchone() == (576,)
        assert db.execute("select count(*) from mart_zone_daily_peak").fetchone() == (18,)


def test_a_broken_dagster_module_is_one_line(dagster_repo: Checkout) -> None:
    dagster_repo.pipeline("theta", "  engine: dagster\n  dbt: false\n  tags: [t]\n")
    dagster_repo.write(
        "pipelines/theta/orchestration/extra.py", "import dagster\nfrom .nowhere import thing\n"
    )
    line = _one_problem(dagster_repo.doit("validate:theta"), "validate:theta")
    assert line.startswith("pipelines/theta/orchestration/extra.py:2: import error: ImportError")


def test_a_cdc_pipeline_deploys_its_ddl_before_dbt(scratch: Checkout) -> None:
    copy_from_checkout("pipelines/retail_cdc", scratch.root)
    copy_from_checkout("platform/cdc", scratch.root)
    manifest = scratch.root / "pipelines/retail_cdc/pipeline.yaml"
    manifest.write_text(manifest.read_text() + "orchestration:\n  tags: [retail]\n")
    try:
        result = scratch.doit("validate:retail_cdc")
        assert result.returncode == 0, result.stdout + result.stderr
        entry = _loaded(scratch, "pipelines/retail_cdc/generated/orchestration/retail_cdc_dag.py")
        tasks = [t["task_id"] for t in entry["dags"][0]["tasks"]]
        assert tasks[:2] == ["start", "deploy_cdc_ddl"]
        assert "dbt.stg_retail__customer_run" in tasks, tasks
    finally:
        shutil.rmtree(scratch.root / "platform/cdc")
