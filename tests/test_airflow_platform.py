"""End to end on the real Docker engine: the platform's Airflow image built by doit from the
validation lock on a Debian base made with debootstrap, `invoke up --profile airflow` healthy,
the stavanger_parking DAG served with zero import errors (asked of Airflow's REST API), a
triggered run that succeeds and leaves the pipeline's marts in the platform's PostgreSQL, and a
broken DAG stopped by validation before it reaches the dags folder. Then the same pipeline
switched to Dagster: the platform's Dagster loads its code location from the assembled
workspace and a materialization rebuilds the marts.

The platform's PostgreSQL is the tests' Debian-built image (the template's public image
cannot be pulled here); everything else is what the repository ships."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    REPO,
    build_ca_certificates,
    clean_env,
    copy_from_checkout,
    run,
)

pytestmark = pytest.mark.docker
NAMESPACE = "dptest-airflow-e2e"  # fixed: a rerun on the same machine reuses the built image
ADMIN_PASSWORD = "e2e-admin-password"


class Platform:
    def __init__(self, root: Path, env: dict[str, str], client):
        self.root = root
        self.env = env
        self.client = client

    def doit(self, *args: str) -> subprocess.CompletedProcess:
        return run([sys.executable, "-m", "doit", *args], self.root, self.env, timeout=1800)

    def invoke(self, *args: str) -> subprocess.CompletedProcess:
        return run(
            [str(Path(sys.executable).with_name("invoke")), *args], self.root, self.env, timeout=900
        )

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """Airflow's REST API, asked from inside the webserver container (published ports do
        not reach containers on these machines)."""
        command = [
            "curl",
            "-s",
            "-u",
            f"admin:{ADMIN_PASSWORD}",
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
            f"http://localhost:8080/api/v1/{path}",
        ]
        if body is not None:
            command += ["-d", json.dumps(body)]
        container = self.client.containers.get(f"{NAMESPACE}-airflow-webserver")
        code, out = container.exec_run(command)
        assert code == 0, out
        return json.loads(out)

    def psql(self, sql: str) -> str:
        container = self.client.containers.get(f"{NAMESPACE}-postgres")
        code, out = container.exec_run(["psql", "-U", "postgres", "-tAc", sql])
        assert code == 0, out
        return out.decode().strip()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, docker_client, debian_image, postgres_image) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("airflow-e2e") / "checkout"
    root.mkdir()
    for name in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / name, root / name)
    for part in (
        "templates",
        "platform/orchestration",
        "platform/images/orchestrator",
        "pipelines/shared",
        "pipelines/stavanger_parking",
    ):
        copy_from_checkout(part, root)
    (root / "platform/services.yaml").write_text(f"""\
namespace: {NAMESPACE}
services:
  postgres:
    image: {postgres_image}
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres"]
      interval: 1s
      retries: 120
  airflow:
    template: "airflow:2.10"
    profiles: [airflow]
  dagster:
    template: "dagster:1.11"
    profiles: [dagster]
""")
    (root / ".env").write_text(f"""\
POSTGRES_PASSWORD=not-checked-by-the-test-image
POSTGRES_DB=postgres
AIRFLOW_FERNET_KEY=Uq0oMTQZr4gQ8m1pAoPjHsLQ6e9mrWqAq3qOeFzGV7I=
AIRFLOW_SECRET_KEY=e2e-secret-key
AIRFLOW_ADMIN_PASSWORD={ADMIN_PASSWORD}
AIRFLOW_BASE_IMAGE={debian_image}
DAGSTER_BASE_IMAGE={debian_image}
AIRFLOW_WEBSERVER_WORKERS=1
""")
    env = clean_env(
        DATAPLATFORM_BUILD_CA_CERTS=build_ca_certificates() or None, DATAPLATFORM_STRICT="1"
    )
    checkout = Platform(root, env, docker_client)
    checkout.invoke("down", "--volumes", "--yes")  # a previous run's leftovers
    try:
        yield checkout
    finally:
        # Containers first, forcibly (the graceful stop is tested elsewhere and costs each
        # service its grace period); `down` then removes networks and volumes.
        for container in docker_client.containers.list(
            all=True, filters={"label": f"dataplatform.project={NAMESPACE}"}
        ):
            container.remove(force=True)
        checkout.invoke("down", "--volumes", "--yes")


def _wait(what: str, probe, timeout: float, every: float = 3.0):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def test_a_pipeline_runs_on_the_platforms_airflow(platform: Platform) -> None:
    built = platform.doit()
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    assert "validate:stavanger_parking: 1 DAG valid on airflow 2.10" in built.stdout
    assert (
        platform.root / "platform/orchestration/dags/stavanger_parking/stavanger_parking_dag.py"
    ).exists()

    up = platform.invoke("up", "--profile", "airflow", "--timeout", "600")
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-2000:]

    def listed():
        dags = platform.api("GET", "dags")["dags"]
        return dags or None

    dags = _wait("the scheduler to parse the dags folder", listed, 300)
    assert [d["dag_id"] for d in dags] == ["stavanger_parking"]
    assert platform.api("GET", "importErrors")["total_entries"] == 0

    platform.api("PATCH", "dags/stavanger_parking", {"is_paused": False})
    platform.api("POST", "dags/stavanger_parking/dagRuns", {"dag_run_id": "e2e"})

    def finished():
        state = platform.api("GET", "dags/stavanger_parking/dagRuns/e2e")["state"]
        return state if state in ("success", "failed") else None

    state = _wait("the DAG run to finish", finished, 900, every=5)
    tasks = platform.api("GET", "dags/stavanger_parking/dagRuns/e2e/taskInstances?limit=100")
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert state == "success", states
    assert states["dbt.fct_hourly_occupancy.run"] == "success"
    assert states["dbt.fct_hourly_occupancy.test"] == "success"
    assert platform.psql("select count(*) from stavanger_parking.fct_hourly_occupancy") == "576"
    assert (
        platform.psql(
            "select count(*), count(distinct zone) from stavanger_parking.mart_zone_daily_peak"
        )
        == "18|9"
    )

    # a DAG that cannot import is stopped by validation: it never reaches the dags folder
    broken = platform.root / "pipelines/stavanger_parking/orchestration/broken.py"
    broken.write_text("from airflow import DAG\nimport not_installed_anywhere\n")
    refused = platform.doit()
    assert refused.returncode != 0
    assert (
        "    pipelines/stavanger_parking/orchestration/broken.py:2: import error: "
        "ModuleNotFoundError: No module named 'not_installed_anywhere'"
    ) in refused.stdout
    assert not (platform.root / "platform/orchestration/dags/stavanger_parking/broken.py").exists()
    assert platform.api("GET", "importErrors")["total_entries"] == 0


def test_the_same_pipeline_on_the_platforms_dagster(platform: Platform) -> None:
    (platform.root / "pipelines/stavanger_parking/orchestration/broken.py").unlink(missing_ok=True)
    manifest = platform.root / "pipelines/stavanger_parking/pipeline.yaml"
    manifest.write_text(
        manifest.read_text().replace("orchestration:\n", "orchestration:\n  engine: dagster\n")
    )
    built = platform.doit()
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    assert not (platform.root / "platform/orchestration/dags/stavanger_parking").exists()

    up = platform.invoke("up", "--profile", "dagster", "--timeout", "600")
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-2000:]
    webserver = platform.client.containers.get(f"{NAMESPACE}-dagster-webserver")
    query = (
        '{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name '
        'loadStatus locationOrLoadError { __typename } } } } }"}'
    )
    code, out = webserver.exec_run(
        [
            "curl",
            "-s",
            "-H",
            "Content-Type: application/json",
            "-d",
            query,
            "http://localhost:3000/graphql",
        ]
    )
    assert code == 0, out
    [location] = json.loads(out)["data"]["workspaceOrError"]["locationEntries"]
    assert (location["name"], location["loadStatus"]) == ("stavanger_parking", "LOADED")
    assert location["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    platform.psql("drop schema if exists stavanger_parking cascade")
    code, out = webserver.exec_run(
        [
            "dagster",
            "asset",
            "materialize",
            "--select",
            "*",
            "-f",
            "/opt/dataplatform/pipelines/stavanger_parking/generated/orchestration/definitions.py",
        ]
    )
    assert code == 0, out.decode()[-4000:]
    assert platform.psql("select count(*) from stavanger_parking.fct_hourly_occupancy") == "576"
