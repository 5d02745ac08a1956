"""Which Docker engine the toolkit talks to, and why it cannot: resolved as the docker CLI does
(DOCKER_HOST > DOCKER_CONTEXT > `docker context use`), checked against `docker info` itself on
real contexts, and every cause said as itself with its fix."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataplatform.errors import EngineUnavailable
from dataplatform.images import engine, presence
from dataplatform.workstation import checks
from support import TempProject, free_port, require

DEFAULT_SOCKET = "unix:///var/run/docker.sock"  # the docker CLI's default on Linux
REAL_ENGINE = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET  # before any test unsets it


@pytest.fixture(autouse=True)
def fresh_engine(monkeypatch) -> Iterator[None]:
    """Each case resolves anew, and the process's connection is forgotten after it."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    engine.reset()
    yield
    engine.reset()


def _reason() -> EngineUnavailable:
    engine.reset()
    with pytest.raises(EngineUnavailable) as caught:
        engine.client()
    return caught.value


@pytest.fixture
def contexts(docker_client, tmp_path: Path, monkeypatch) -> dict[str, str]:
    """A docker CLI config dir with real contexts: `good` on this machine's engine, `dead` on
    a socket nothing serves; the environment of `docker info` and of the toolkit alike."""
    docker_cli = shutil.which("docker")
    require(docker_cli is not None, "the docker CLI is not installed (apt-get install docker.io)")
    real = REAL_ENGINE
    config = tmp_path / "docker-config"
    config.mkdir()
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    for key in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        env.pop(key, None)
    for name, host in (("good", real), ("dead", f"unix://{tmp_path}/nothing.sock")):
        subprocess.run(
            [docker_cli, "context", "create", name, "--docker", f"host={host}"],
            env=env,
            check=True,
            capture_output=True,
        )
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return env


def _docker_info_works(env: dict[str, str], **overrides: str | None) -> bool:
    merged = {**env, **{k: v for k, v in overrides.items() if v is not None}}
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
    return subprocess.run(["docker", "info"], env=merged, capture_output=True).returncode == 0


def _ours(monkeypatch, **overrides: str | None) -> checks.Check:
    for key, value in overrides.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    engine.reset()
    return checks.docker_engine()


@pytest.mark.docker
def test_the_toolkit_uses_the_engine_docker_info_uses(
    contexts: dict[str, str], monkeypatch
) -> None:
    real = REAL_ENGINE
    cases: list[dict[str, str | None]] = [
        {"DOCKER_CONTEXT": "dead"},
        {"DOCKER_CONTEXT": "good"},
        {"DOCKER_CONTEXT": "default"},
        {"DOCKER_CONTEXT": "dead", "DOCKER_HOST": real},  # DOCKER_HOST beats the context
    ]
    for case in cases:
        expected = _docker_info_works(contexts, **case)
        found = _ours(monkeypatch, **{"DOCKER_HOST": None, **case})
        assert (found.status == checks.OK) == expected, (case, found)
    dead = _ours(monkeypatch, DOCKER_HOST=None, DOCKER_CONTEXT="dead")
    assert "(docker context 'dead' from DOCKER_CONTEXT): the engine is not running" in (
        dead.observed
    )
    assert dead.fix.endswith("or point DOCKER_CONTEXT at a running engine")

    # `docker context use dead` is stored in config.json; DOCKER_CONTEXT still beats it
    subprocess.run(
        ["docker", "context", "use", "dead"], env=contexts, check=True, capture_output=True
    )
    for case in ({"DOCKER_CONTEXT": None}, {"DOCKER_CONTEXT": "good"}):
        expected = _docker_info_works(contexts, **case)
        found = _ours(monkeypatch, DOCKER_HOST=None, **case)
        assert (found.status == checks.OK) == expected, (case, found)
    current = _ours(monkeypatch, DOCKER_HOST=None, DOCKER_CONTEXT=None)
    assert "docker context 'dead' from currentContext in" in current.observed
    assert "docker context use NAME" in current.fix

    # the no-op path of doit inspects images without the SDK: it honours the context too
    engine.reset()
    absent = "dataplatform-absent:fp-0"
    with pytest.raises(EngineUnavailable):
        presence.fingerprints_of(absent)
    monkeypatch.setenv("DOCKER_CONTEXT", "good")
    engine.reset()
    assert presence.fingerprints_of(absent) == {absent: None}


@pytest.mark.docker
def test_an_unknown_context_is_named(contexts: dict[str, str], monkeypatch) -> None:
    assert not _docker_info_works(contexts, DOCKER_CONTEXT="nosuch")
    found = _ours(monkeypatch, DOCKER_CONTEXT="nosuch")
    assert found.status == checks.FAIL
    assert found.observed.startswith("docker context 'nosuch' from DOCKER_CONTEXT does not exist")
    assert "docker context ls" in found.fix


def test_an_ssh_endpoint_without_paramiko_says_so(monkeypatch) -> None:
    """The docker SDK's ssh transport imports paramiko; its absence is made certain here by
    hiding the module (a real ssh engine cannot run on this machine)."""
    monkeypatch.setitem(sys.modules, "paramiko", None)
    monkeypatch.setenv("DOCKER_HOST", "ssh://builder@build-host.example")
    failure = _reason()
    assert "nothing answers" not in str(failure)
    assert failure.reason.startswith(
        "ssh://builder@build-host.example (DOCKER_HOST) is an "
        "ssh:// endpoint, which the docker SDK reaches only with "
        "Python's paramiko package, and it is not installed"
    )
    assert "pip install paramiko" in failure.fix


def test_each_cause_is_said_as_itself(tmp_path: Path, monkeypatch) -> None:
    # a socket file nobody listens on: the engine stopped (not "no socket")
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{stale}")
    failure = _reason()
    assert failure.reason.endswith("exists, but no engine listens on it: the engine stopped")
    assert failure.fix.startswith("start Docker")

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    assert _reason().reason.endswith("(DOCKER_HOST): the engine is not running")

    closed = free_port()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed}")
    failure = _reason()
    assert failure.reason == f"nothing listens at tcp://127.0.0.1:{closed} (DOCKER_HOST)"
    assert failure.fix == "start the engine there, or fix DOCKER_HOST"

    monkeypatch.setenv("DOCKER_HOST", "tcp://no-such-host.invalid:2375")
    failure = _reason()
    assert failure.reason == (
        "the host name 'no-such-host.invalid' of "
        "tcp://no-such-host.invalid:2375 (DOCKER_HOST) does not resolve"
    )


def test_something_that_is_not_docker_is_said_so(monkeypatch) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_port}")
        failure = _reason()
    finally:
        server.shutdown()
        server.server_close()
    assert failure.reason == (
        f"tcp://127.0.0.1:{server.server_port} (DOCKER_HOST) answers, "
        "but not as a Docker engine (HTTP 404)"
    )


@pytest.mark.parametrize(
    "command", [["status"], ["up"], ["down"], ["logs", "web"], ["restart", "web"]]
)
def test_lifecycle_commands_say_the_fix_when_the_engine_is_down(
    project: TempProject, command: list[str]
) -> None:
    project.services("  web:\n    image: busybox\n")
    result = project.invoke(*command, DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line == (
        "✗ Docker engine not reachable: no engine socket at "
        "unix:///nonexistent/docker.sock (DOCKER_HOST): the engine is not running "
        "— start Docker (Docker Desktop, `sudo systemctl start docker`, or "
        "`dockerd &`), or point DOCKER_HOST at a running engine"
    )
