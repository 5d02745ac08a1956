"""invoke down against a real Docker engine: dependents before their dependencies, a level at
once, each service's stop_signal and stop_grace_period; and from the containers' labels alone
when services.yaml is broken. What happened is read from the engine's event stream (signals
sent, exits, their order), never from how long a command took."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict

import pytest

from support import TempProject

# sh runs the trap between two sleeps: it notes the signal and carries on, so only SIGKILL
# (after the grace period) ends it.
IGNORES_USR1 = '["sh", "-c", "trap \\"echo got-usr1\\" USR1; while true; do sleep 0.2; done"]'
EXITS_ON_TERM = '["sh", "-c", "trap \\"exit 0\\" TERM; while true; do sleep 0.2; done"]'


def stack(busybox: str) -> str:
    """a and b ignore their stop signal (SIGUSR1) for their 3 s grace period; both depend on
    base, which exits at once on SIGTERM and has a health check."""
    ignoring = f"""    image: {busybox}
    command: {IGNORES_USR1}
    stop_signal: SIGUSR1
    stop_grace_period: 3s
    depends_on: [base]
"""
    return (
        f"  base:\n    image: {busybox}\n    command: {EXITS_ON_TERM}\n"
        "    healthcheck: {test: [CMD, 'true'], interval: 500ms}\n"
        f"  a:\n{ignoring}  b:\n{ignoring}"
    )


def containers(docker_client, namespace: str) -> dict[str, object]:
    found = docker_client.containers.list(
        all=True, filters={"label": f"dataplatform.project={namespace}"}
    )
    return {c.labels["dataplatform.service"]: c for c in found}


@pytest.fixture
def running(project: TempProject, busybox_image: str, docker_client):
    project.services(stack(busybox_image))
    started = project.invoke("up")
    assert started.returncode == 0, started.stdout + started.stderr
    yield project
    for container in containers(docker_client, project.namespace).values():
        container.remove(force=True)
    for network in docker_client.networks.list(
        filters={"label": f"dataplatform.project={project.namespace}"}
    ):
        network.remove()


class Events:
    """The namespace's container events, recorded live from before a command runs. (Asking the
    engine afterwards is not enough: it keeps only its last few hundred events, which a busy
    engine overwrites within seconds.)"""

    def __init__(self, docker_client, namespace: str, health: bool = False):
        """`health`: also record health results (`("health_status", "healthy")`)."""
        self.health = health
        self.seen: dict[str, list[tuple]] = defaultdict(list)  # service → [(ns, action, value)]
        self.stream = docker_client.events(
            decode=True, filters={"type": "container", "label": f"dataplatform.project={namespace}"}
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # closing the stream ends the loop
            for event in self.stream:
                attributes = event["Actor"]["Attributes"]
                action = event.get("Action") or event.get("status")
                if self.health and action.startswith("health_status: "):
                    action, value = action.split(": ", 1)
                    self.seen[attributes.get("dataplatform.service")].append(
                        (event["timeNano"], action, value)
                    )
                elif action in ("kill", "die", "destroy", "start"):
                    value = attributes.get("signal") or attributes.get("exitCode")
                    self.seen[attributes.get("dataplatform.service")].append(
                        (event["timeNano"], action, value)
                    )

    def until(self, service: str, action: str) -> dict[str, list[tuple]]:
        """Everything recorded once `service` has done `action` (at most a minute later)."""
        deadline = time.monotonic() + 60
        while not any(a == action for _, a, _ in self.seen[service]):
            assert time.monotonic() < deadline, f"no {action} of {service}: {dict(self.seen)}"
            time.sleep(0.05)
        self.stream.close()
        return {name: list(found) for name, found in self.seen.items()}


def instant(text: str) -> int:
    """Nanoseconds since the epoch of an engine timestamp (RFC 3339, trailing zeros cut)."""
    from datetime import datetime

    stamp, _, fraction = text.removesuffix("Z").partition(".")
    zone = ""
    for sign in "+-":
        if sign in fraction:
            fraction, _, zone = fraction.partition(sign)
            zone = sign + zone
    seconds = datetime.fromisoformat(stamp + (zone or "+00:00")).timestamp()
    return int(seconds) * 10**9 + int((fraction or "0").ljust(9, "0")[:9])


def first(events: list[tuple], action: str, value: str | None = None) -> int:
    return next(t for t, a, v in events if a == action and (value is None or v == value))


def assert_stopped_in_parallel_then_base(seen: dict[str, list[tuple]]) -> None:
    for name in ("a", "b"):
        actions = [(a, v) for _, a, v in seen[name]]
        # its stop signal (SIGUSR1 = 10), ignored; SIGKILL after the grace period; exit 137
        assert actions[:3] == [("kill", "10"), ("kill", "9"), ("die", "137")], actions
        assert ("destroy", None) in actions
        grace_ns = first(seen[name], "kill", "9") - first(seen[name], "kill", "10")
        assert grace_ns >= 3e9 - 1e8, grace_ns  # never killed before its grace period ends
    # a and b were signalled before either of them died: their stops overlapped
    assert max(first(seen["a"], "kill", "10"), first(seen["b"], "kill", "10")) < min(
        first(seen["a"], "die"), first(seen["b"], "die")
    )
    # base (SIGTERM = 15, the default) only after both its dependents were gone; it exits 0
    assert first(seen["base"], "kill", "15") > max(first(seen["a"], "die"), first(seen["b"], "die"))
    assert [(a, v) for _, a, v in seen["base"]][:2] == [("kill", "15"), ("die", "0")]


@pytest.mark.docker
def test_down_stops_a_level_at_once_with_each_services_signal_and_grace(
    running: TempProject, docker_client
) -> None:
    events = Events(docker_client, running.namespace)
    result = running.invoke("down")
    assert result.returncode == 0, result.stdout + result.stderr
    assert containers(docker_client, running.namespace) == {}
    assert_stopped_in_parallel_then_base(events.until("base", "destroy"))
    # piped: one plain line per change, saying what it waits for
    assert "a: stopping sent SIGUSR1, SIGKILL after 3s" in result.stdout, result.stdout
    assert "a: stopping killed: still running after 3s (SIGUSR1 ignored)" in result.stdout
    assert "removed 3 container(s)" in result.stdout


@pytest.mark.docker
def test_down_works_from_the_labels_when_services_yaml_is_broken(
    running: TempProject, docker_client
) -> None:
    running.write(
        "platform/services.yaml", f"namespace: {running.namespace}\nservices:\n  a: [unclosed\n"
    )
    events = Events(docker_client, running.namespace)
    result = running.invoke("down")
    assert result.returncode == 0, result.stdout + result.stderr
    notice = result.stderr.strip()
    assert notice.count("\n") == 0, notice  # one line saying the file is broken, and where
    assert "services.yaml is broken (platform/services.yaml:" in notice
    assert f"working from the engine's labels of namespace {running.namespace}" in notice
    assert containers(docker_client, running.namespace) == {}
    # the same order, signals and grace periods, read from the containers this time
    assert_stopped_in_parallel_then_base(events.until("base", "destroy"))


@pytest.mark.docker
def test_restart_says_what_it_waits_for(running: TempProject, docker_client) -> None:
    before = containers(docker_client, running.namespace)
    events = Events(docker_client, running.namespace)
    result = running.invoke("restart", "a")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "a: stopping sent SIGUSR1, SIGKILL after 3s" in out, out
    assert "a: stopping killed: still running after 3s (SIGUSR1 ignored)" in out
    assert "a restarted and ready" in out
    seen = events.until("a", "start")
    assert [(a, v) for _, a, v in seen["a"]][:3] == [("kill", "10"), ("kill", "9"), ("die", "137")]
    assert "b" not in seen and "base" not in seen  # nothing else was touched
    healthy = running.invoke("restart", "base")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "base: waiting health check `true` (every 0.5s)" in healthy.stdout, healthy.stdout
    assert "base: ready healthy" in healthy.stdout
    after = containers(docker_client, running.namespace)
    assert {n: c.id for n, c in after.items()} == {n: c.id for n, c in before.items()}
    assert all(c.status == "running" for c in after.values())


@pytest.mark.docker
def test_restart_also_restarts_dependents_declaring_restart_true_once_it_is_healthy(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    """`restart db`: db, then app (`depends_on: {db: {restart: true}}`) once db is healthy
    again, then worker (restart: true on app); side depends on db without it and is kept."""
    term = f"    image: {busybox_image}\n    command: {EXITS_ON_TERM}\n"
    project.services(
        f"  db:\n{term}    healthcheck: {{test: [CMD, 'true'], interval: 300ms}}\n"
        f"  app:\n{term}    depends_on: {{db: {{condition: service_healthy, restart: true}}}}\n"
        f"  worker:\n{term}    depends_on: {{app: {{restart: true}}}}\n"
        f"  side:\n{term}    depends_on: [db]\n"
    )
    try:
        assert project.invoke("up").returncode == 0
        before = {
            n: c.attrs["State"]["StartedAt"]
            for n, c in containers(docker_client, project.namespace).items()
        }
        events = Events(docker_client, project.namespace, health=True)
        result = project.invoke("restart", "db")
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert "app: waiting restarts once db is ready (depends_on restart: true)" in out, out
        assert "worker: waiting restarts once app is ready" in out, out
        assert "db restarted and ready; then its dependents app, worker" in out, out
        after = {n: c.attrs for n, c in containers(docker_client, project.namespace).items()}
        started = {n: instant(attrs["State"]["StartedAt"]) for n, attrs in after.items()}
        assert started["side"] == instant(before["side"])  # no restart: true, not touched
        assert all(started[n] > instant(before[n]) for n in ("db", "app", "worker")), started
        # db restarted and became healthy, then app started, then worker
        seen = events.until("worker", "start")
        db_start = first(seen["db"], "start")
        healthy = next(
            t for t, a, v in seen["db"] if a == "health_status" and v == "healthy" and t > db_start
        )
        assert db_start < healthy < first(seen["app"], "start") < first(seen["worker"], "start")
        assert "start" not in [a for _, a, _ in seen.get("side", [])]
    finally:
        for container in containers(docker_client, project.namespace).values():
            container.remove(force=True)
        project.invoke("down")


@pytest.mark.docker
def test_ctrl_c_during_down_says_what_is_left_and_down_again_finishes(
    running: TempProject, docker_client
) -> None:
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from support import clean_env

    invoke = str(Path(sys.executable).with_name("invoke"))
    process = subprocess.Popen(
        [invoke, "down"],
        cwd=running.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in process.stdout:  # a and b ignore SIGUSR1 for 3 s: down is waiting on them
        seen.append(line)
        if sum("stopping sent SIGUSR1" in s for s in seen) == 2:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + out + err
    assert "✗ interrupted: removed nothing; not yet: " in err and "Traceback" not in err
    assert "run invoke down again to finish" in err
    assert set(containers(docker_client, running.namespace)) == {"a", "b", "base"}
    again = running.invoke("down")
    assert again.returncode == 0, again.stderr
    assert containers(docker_client, running.namespace) == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stop_signal", "SIGNOPE", "'SIGNOPE' is not a signal — write a name like SIGTERM"),
        ("stop_grace_period", "soon", "'soon' is not a duration — write it like 500ms, 10s"),
    ],
)
@pytest.mark.docker
def test_a_bad_stop_setting_is_one_line_with_its_place(
    project: TempProject, busybox_image: str, docker_client, key: str, value: str, message: str
) -> None:
    project.services(f"  web:\n    image: {busybox_image}\n    {key}: {value}\n")
    result = project.invoke("up")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"platform/services.yaml:5: services.web.{key}: {message}" in result.stderr
    assert containers(docker_client, project.namespace) == {}


@pytest.mark.docker
def test_down_keeps_a_persistent_shared_volume_until_down_volumes_yes(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    """Top-level volumes (shared by services) follow the same rule as per-service ones:
    persistent ones survive `down`, scratch ones do not, `down --volumes --yes` removes all."""
    project.write(
        "platform/services.yaml",
        f"""namespace: {project.namespace}
volumes:
  data: {{persistent: true}}
  scratch: {{}}
services:
  writer:
    image: {busybox_image}
    command: ["sh", "-c", "echo kept > /data/file; exec sleep 600"]
    volumes: ["data:/data", "scratch:/scratch"]
    stop_signal: SIGKILL
  reader:
    image: {busybox_image}
    command: ["sleep", "600"]
    volumes: ["data:/data"]
    stop_signal: SIGKILL
""",
    )
    ours = {"label": f"dataplatform.project={project.namespace}"}
    try:
        assert project.invoke("up").returncode == 0
        names = {v.name for v in docker_client.volumes.list(filters=ours)}
        assert names == {f"{project.namespace}_data", f"{project.namespace}_scratch"}, names
        down = project.invoke("down")
        assert down.returncode == 0, down.stderr
        assert {v.name for v in docker_client.volumes.list(filters=ours)} == {
            f"{project.namespace}_data"
        }
        assert project.invoke("down", "--volumes", "--yes").returncode == 0
        assert docker_client.volumes.list(filters=ours) == []
    finally:
        for container in containers(docker_client, project.namespace).values():
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters=ours):
            volume.remove(force=True)
        for network in docker_client.networks.list(filters=ours):
            network.remove()


def test_how_to_stop_comes_from_services_yaml_else_from_the_container() -> None:
    """Pure: which signal, grace period and dependencies down uses for each container."""
    from dataplatform.services.found import Found
    from dataplatform.services.spec import Service
    from dataplatform.services.stop import targets

    def container(service: str, signal: str | None, labels: dict[str, str]) -> Found:
        return Found(
            service,
            {
                "Id": f"id-{service}",
                "State": {"Status": "running"},
                "Config": {"StopSignal": signal, "Labels": labels},
            },
        )

    carried = {"dataplatform.depends-on": "db,cache", "dataplatform.stop-grace-period": "90"}
    found = {
        "app": container("app", "SIGINT", carried),
        "db": container("db", None, {}),
        "old": container("old", "SIGQUIT", carried),
    }
    declared = {
        "app": Service(
            "app",
            "x:1",
            image="i",
            stop_signal="SIGUSR2",
            stop_grace_period=2.5,
            depends_on=(("db", "service_started"),),
        ),
        "db": Service("db", "x:2", image="i"),
    }
    made = targets(found, declared)
    assert (made["app"].signal, made["app"].grace, made["app"].dependencies) == (
        "SIGUSR2",
        2.5,
        ("db",),
    )  # services.yaml wins over what the container carries
    assert (made["db"].signal, made["db"].grace) == ("SIGTERM", 10.0)  # the defaults
    assert (made["old"].signal, made["old"].grace, made["old"].dependencies) == (
        "SIGQUIT",
        90.0,
        ("db", "cache"),
    )  # not declared any more: its own labels
    broken = targets(found, None)  # services.yaml does not load
    assert (broken["app"].signal, broken["app"].grace, broken["app"].dependencies) == (
        "SIGINT",
        90.0,
        ("db", "cache"),
    )


def test_compose_export_keeps_stop_signal_and_grace_period(project: TempProject) -> None:
    """`invoke compose` gives docker compose the same stop settings (no engine needed)."""
    import yaml

    project.services(
        "  db:\n    image: busybox\n    stop_signal: INT\n"
        "    stop_grace_period: 90s\n  web:\n    image: busybox\n"
    )
    result = project.invoke("compose")
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load((project.root / "compose.yaml").read_text())
    db, web = document["services"]["db"], document["services"]["web"]
    assert (db["stop_signal"], db["stop_grace_period"]) == ("SIGINT", "1m30s")
    assert "stop_signal" not in web and "stop_grace_period" not in web
