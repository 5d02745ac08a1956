"""invoke up / down / status / restart / compose against a real Docker engine, with busybox
services whose health checks are real HTTP requests."""

from __future__ import annotations

import contextlib
import re
import socket
from datetime import datetime

import docker.errors
import pytest
import yaml

from support import TempProject

pytestmark = pytest.mark.docker


def services_yaml(busybox: str, app_env: str = "blue", init_exit: int = 0) -> str:
    httpd = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p {port} -h /www"
    return f"""
  db:
    image: {busybox}
    command: ["sh", "-c", "echo db-booting; sleep 2; {httpd.format(port=8001)}"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8001/"]
      interval: 500ms
      timeout: 2s
      retries: 30
    persistent: true
    volumes: ["data:/data"]
  init:
    image: {busybox}
    command: ["sh", "-c", "wget -q -O- http://db:8001/ && echo init-done && exit {init_exit}"]
    depends_on:
      db: {{condition: service_healthy}}
  app:
    image: {busybox}
    command: ["sh", "-c", "{httpd.format(port=8002)}"]
    environment:
      COLOUR: {app_env}
      SECRET: ${{APP_SECRET}}
    depends_on:
      db: {{condition: service_healthy}}
      init: {{condition: service_completed_successfully}}
    healthcheck:
      test: "wget -q -O- http://localhost:8002/"
      interval: 500ms
      retries: 30
  broken:
    image: {busybox}
    command: ["sh", "-c", "echo broken-starting; echo broken-last-words; sleep 600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 300ms
      retries: 3
    profiles: [broken]
"""


@pytest.fixture
def platform(project: TempProject, busybox_image: str, docker_client):
    project.services(services_yaml(busybox_image))
    project.write(".env", "APP_SECRET=not-in-any-file\n")
    yield project
    # Containers first, forcibly: a graceful down would wait out each grace period (busybox
    # ignores SIGTERM as PID 1); `down` then removes the rest (networks, volumes).
    for container in docker_client.containers.list(
        all=True, filters={"label": f"dataplatform.project={project.namespace}"}
    ):
        container.remove(force=True)
    project.invoke("down", "--volumes", "--yes")


def containers(docker_client, namespace: str) -> dict[str, object]:
    found = docker_client.containers.list(
        all=True, filters={"label": f"dataplatform.project={namespace}"}
    )
    return {c.labels["dataplatform.service"]: c for c in found}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text[:26].rstrip("Z"))


def test_up_gates_on_health_and_a_second_up_changes_nothing(
    platform: TempProject, docker_client
) -> None:
    result = platform.invoke("up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 created" in result.stdout
    running = containers(docker_client, platform.namespace)
    assert set(running) == {"db", "init", "app"}  # the profile's service stays off
    db = running["db"].attrs["State"]
    init = running["init"].attrs["State"]
    # never before its dependency was healthy: init fetched db's page, which db serves only
    # after its 2 s boot; and the last health result before init started was a success (the
    # engine keeps only the last 5, so the first ones may be gone)
    assert "init-done" in running["init"].logs().decode()
    earlier = [
        entry for entry in db["Health"]["Log"] if when(entry["End"]) <= when(init["StartedAt"])
    ]
    assert not earlier or earlier[-1]["ExitCode"] == 0
    assert init["ExitCode"] == 0
    assert when(running["app"].attrs["State"]["StartedAt"]) >= when(init["FinishedAt"])
    assert "SECRET=not-in-any-file" in running["app"].attrs["Config"]["Env"]

    again = platform.invoke("up")
    assert again.returncode == 0, again.stderr
    assert "(3 unchanged)" in again.stdout
    assert {n: c.id for n, c in containers(docker_client, platform.namespace).items()} == {
        n: c.id for n, c in running.items()
    }


def test_changed_environment_recreates_exactly_that_service(
    platform: TempProject, busybox_image: str, docker_client
) -> None:
    assert platform.invoke("up").returncode == 0
    before = {n: c.id for n, c in containers(docker_client, platform.namespace).items()}
    platform.services(services_yaml(busybox_image, app_env="green"))
    status = platform.invoke("status")
    assert re.search(r"app .* changed", status.stdout), status.stdout
    result = platform.invoke("up")
    assert result.returncode == 0, result.stderr
    assert "1 recreated" in result.stdout and "2 unchanged" in result.stdout
    after = {n: c.id for n, c in containers(docker_client, platform.namespace).items()}
    assert [n for n in after if after[n] != before[n]] == ["app"]


def test_a_killed_container_is_restarted(platform: TempProject, docker_client) -> None:
    assert platform.invoke("up").returncode == 0
    containers(docker_client, platform.namespace)["db"].kill()
    result = platform.invoke("up")
    assert result.returncode == 0, result.stderr
    assert "1 restarted" in result.stdout
    assert containers(docker_client, platform.namespace)["db"].status == "running"

    logs = platform.invoke("logs", "db", "--tail", "50")
    assert logs.returncode == 0 and "db-booting" in logs.stdout
    app = containers(docker_client, platform.namespace)["app"]
    before = app.attrs["State"]["StartedAt"]
    restarted = platform.invoke("restart", "app")
    assert restarted.returncode == 0, restarted.stderr
    assert "app restarted and ready" in restarted.stdout
    app.reload()
    assert app.attrs["State"]["StartedAt"] != before
    missing = platform.invoke("logs", "nope")
    assert missing.returncode == 1 and "unknown service 'nope'" in missing.stderr


def test_a_service_that_never_gets_healthy_fails_with_its_logs(platform: TempProject) -> None:
    result = platform.invoke("up", "--service", "broken")
    assert result.returncode == 1
    err = result.stderr
    assert "✗ service broken: unhealthy: health check `false` failed" in err
    assert "broken-last-words" in err and "Traceback" not in err


def test_a_failing_init_job_stops_up(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    project.services(services_yaml(busybox_image, init_exit=3))
    project.write(".env", "APP_SECRET=x\n")
    try:
        result = project.invoke("up")
        assert result.returncode == 1
        assert "✗ service init: exited with code 3" in result.stderr
        assert "init-done" in result.stderr  # its last log lines
        assert "app" not in containers(docker_client, project.namespace)
    finally:
        project.invoke("down", "--volumes", "--yes")


def test_down_keeps_persistent_volumes_and_never_touches_other_namespaces(
    platform: TempProject, busybox_image: str, docker_client
) -> None:
    stranger = docker_client.containers.run(
        busybox_image,
        ["sleep", "600"],
        detach=True,
        name=f"stranger-{platform.namespace}",
        labels={"dataplatform.project": "someone-else", "dataplatform.service": "db"},
    )
    try:
        assert platform.invoke("up").returncode == 0
        down = platform.invoke("down")
        assert down.returncode == 0, down.stderr
        assert containers(docker_client, platform.namespace) == {}
        volume = f"{platform.namespace}_db_data"
        assert docker_client.volumes.get(volume)
        refused = platform.invoke("down", "--volumes")  # not a terminal: needs --yes
        assert refused.returncode == 1 and "--yes" in refused.stderr
        assert platform.invoke("down", "--volumes", "--yes").returncode == 0
        with pytest.raises(docker.errors.NotFound):
            docker_client.volumes.get(volume)
        stranger.reload()
        assert stranger.status == "running"
    finally:
        stranger.remove(force=True)


def test_compose_export_keeps_references_not_secrets(platform: TempProject) -> None:
    result = platform.invoke("compose")
    assert result.returncode == 0, result.stderr
    text = (platform.root / "compose.yaml").read_text()
    assert "not-in-any-file" not in text
    document = yaml.safe_load(text)
    app = document["services"]["app"]
    assert app["environment"]["SECRET"] == "${APP_SECRET}"
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "init": {"condition": "service_completed_successfully"},
    }
    assert app["healthcheck"]["interval"] == "0.5s"
    assert document["services"]["broken"]["profiles"] == ["broken"]
    assert document["services"]["db"]["volumes"] == ["db_data:/data"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "dependency cycle: a → b → a",
        ),
        ("  a:\n    image: x\n    depends_on: [nope]\n", "depends on unknown service 'nope'"),
        (
            '  a:\n    template: "postgress:16"\n',
            "unknown service template 'postgress' — did you mean 'postgres'?",
        ),
        ('  a:\n    template: "postgres:9"\n', "unknown version '9' of template 'postgres'"),
        (
            "  a:\n    image: x\n    healthcheck: {test: [CMD, 'true'], interval: soon}\n",
            "'soon' is not a duration",
        ),
        (
            '  a:\n    image: x\n    environment: {K: "${NOT_SET_ANYWHERE}"}\n',
            "${NOT_SET_ANYWHERE} has no value",
        ),
    ],
)
def test_bad_input_is_one_line_and_starts_nothing(
    project: TempProject, busybox_image: str, docker_client, body: str, message: str
) -> None:
    project.services(body.replace("image: x", f"image: {busybox_image}"))
    result = project.invoke("up")
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert containers(docker_client, project.namespace) == {}


def test_a_host_port_in_use_is_named_before_anything_starts(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        project.services(
            f"  web:\n    image: {busybox_image}\n    command: [sleep, '60']\n"
            f"    ports: ['{port}:80']\n"
        )
        result = project.invoke("up")
    assert result.returncode == 1
    assert f"port {port} for service web is already in use by process" in result.stderr
    assert containers(docker_client, project.namespace) == {}
    with contextlib.suppress(Exception):
        project.invoke("down")


def test_postgres_data_survives_down_and_up_but_not_down_volumes(
    project: TempProject, postgres_image: str, docker_client
) -> None:
    project.services(f"""
  postgres:
    image: {postgres_image}
    persistent: true
    volumes: ["data:/var/lib/postgresql/data"]
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres"]
      interval: 500ms
      retries: 60
""")

    def psql(sql: str) -> str:
        container = containers(docker_client, project.namespace)["postgres"]
        code, out = container.exec_run(["psql", "-U", "postgres", "-tAc", sql])
        assert code == 0, out
        return out.decode().strip()

    try:
        first = project.invoke("up", "--timeout", "120")
        assert first.returncode == 0, first.stdout + first.stderr
        psql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')")
        assert project.invoke("down").returncode == 0
        assert project.invoke("up", "--timeout", "120").returncode == 0
        assert psql("SELECT v FROM kept") == "survives"
        assert project.invoke("down", "--volumes", "--yes").returncode == 0
        assert project.invoke("up", "--timeout", "120").returncode == 0
        assert psql("SELECT to_regclass('kept') IS NULL") == "t"
    finally:
        project.invoke("down", "--volumes", "--yes")
