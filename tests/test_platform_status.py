"""invoke status / logs against a real Docker engine: exit codes that tell success from
failure, human uptimes, whole values when piped; status and logs from the engine's labels when
services.yaml is broken; an unknown service named with a did-you-mean."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support import TempProject, clean_env, free_port, run

LONG = "a-service-whose-name-is-long-enough-to-wrap-at-80-columns"  # hostname ≤ 63
# runs invoke and writes the modules it imported, at exit
WRAPPER = """\
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["invoke", *sys.argv[2:]]
from invoke.main import program
program.run()
"""


def containers(docker_client, namespace: str) -> dict[str, object]:
    found = docker_client.containers.list(
        all=True, filters={"label": f"dataplatform.project={namespace}"}
    )
    return {c.labels["dataplatform.service"]: c for c in found}


@pytest.fixture
def stack(project: TempProject, busybox_image: str, docker_client):
    """web runs; done exits 0 and broke exits 3 a second after starting; lazy is never
    started (a profile)."""
    project.services(f"""
  web:
    image: {busybox_image}
    command: ["sh", "-c", "echo web-says-hello; exec sleep 600"]
  done:
    image: {busybox_image}
    command: ["sh", "-c", "sleep 1; exit 0"]
  broke:
    image: {busybox_image}
    command: ["sh", "-c", "sleep 1; echo broke-says-bye; exit 3"]
  {LONG}:
    image: {busybox_image}
    command: ["sleep", "600"]
    ports: ["127.0.0.1:{free_port()}:8080"]
  lazy:
    image: {busybox_image}
    profiles: [later]
""")
    try:  # a failed `up` leaves nothing behind either
        started = project.invoke("up")
        assert started.returncode == 0, started.stdout + started.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until both jobs have ended
            found = containers(docker_client, project.namespace)
            if all(found[n].status == "exited" for n in ("done", "broke")):
                break
            time.sleep(0.2)
        yield project
    finally:
        for container in containers(docker_client, project.namespace).values():
            container.remove(force=True)
        for network in docker_client.networks.list(
            filters={"label": f"dataplatform.project={project.namespace}"}
        ):
            network.remove()


def line_of(text: str, service: str) -> str:
    """The table row of `service`, its cells joined by single spaces."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] == service:
            return " ".join(cells)
    raise AssertionError(f"no row for {service} in:\n{text}")


@pytest.mark.docker
def test_status_tells_success_from_failure_and_cuts_nothing_when_piped(stack: TempProject) -> None:
    """Also: status reads the engine with plain HTTP on its socket, never importing the
    docker SDK or requests (a tenth of a second for a read-only command)."""
    wrapper = stack.root.parent / "modules_at_exit.py"
    wrapper.write_text(WRAPPER)
    listing = stack.root.parent / "modules.json"
    result = run(
        [sys.executable, str(wrapper), str(listing), "status"], stack.root, clean_env(**stack.env)
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(listing.read_text())
    assert "dataplatform.services.status" in modules
    loaded = sorted({m.split(".")[0] for m in modules} & {"docker", "requests", "urllib3"})
    assert loaded == [], f"invoke status imported {loaded}"
    out = result.stdout
    assert "exited (0): ok" in line_of(out, "done")
    assert "exited (3): failed" in line_of(out, "broke")
    assert "ended " in line_of(out, "broke") and " ago" in line_of(out, "broke")
    assert line_of(out, "lazy").split()[1] == "absent"
    web = line_of(out, "web").split()
    assert web[1] == "running" and web[-1].endswith("s")  # uptime in seconds: just started
    long_row = line_of(out, LONG)  # the whole name and the whole port binding, on one line
    assert "127.0.0.1:" in long_row and "→8080/tcp" in long_row and "running" in long_row
    assert "…" not in out


@pytest.mark.docker
def test_status_and_logs_work_from_the_labels_when_services_yaml_is_broken(
    stack: TempProject,
) -> None:
    stack.write(
        "platform/services.yaml", f"namespace: {stack.namespace}\nservices:\n  web:\n    image: [\n"
    )
    status = stack.invoke("status")
    assert status.returncode == 0, status.stderr
    assert status.stderr.count("\n") == 1, status.stderr
    assert "services.yaml is broken (platform/services.yaml:" in status.stderr
    assert line_of(status.stdout, "web").split()[1] == "running"
    assert "exited (3): failed" in line_of(status.stdout, "broke")
    assert "lazy" not in status.stdout  # only services.yaml knew it

    logs = stack.invoke("logs", "broke")
    assert logs.returncode == 0, logs.stderr
    assert "broke-says-bye" in logs.stdout and "services.yaml is broken" in logs.stderr
    unknown = stack.invoke("logs", "wbe")
    assert unknown.returncode == 1
    assert "unknown service 'wbe'" in unknown.stderr and "did you mean 'web'?" in unknown.stderr


@pytest.mark.docker
def test_status_finds_the_namespace_that_its_first_line_guess_misses(stack: TempProject) -> None:
    """status asks the engine for the namespace on services.yaml's `namespace:` line while the
    file loads; written in flow style the line is not there, the guess (the folder's default)
    is wrong, and the containers of the namespace the file really declares are shown."""
    import yaml

    path = stack.root / "platform/services.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()), default_flow_style=True))
    assert not path.read_text().startswith("namespace:")
    status = stack.invoke("status")
    assert status.returncode == 0, status.stderr
    assert line_of(status.stdout, "web").split()[1] == "running"
    assert "exited (3): failed" in line_of(status.stdout, "broke")


@pytest.mark.docker
def test_logs_of_an_unknown_service_says_so_with_a_did_you_mean(stack: TempProject) -> None:
    result = stack.invoke("logs", "wbe")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        "unknown service 'wbe' (not in platform/services.yaml) — did you mean 'web'?"
        in result.stderr
    )
    assert "invoke up" not in result.stderr
    nowhere = stack.invoke("logs", "zzzzzz")
    assert "unknown service 'zzzzzz'" in nowhere.stderr and "services: " in nowhere.stderr
    # declared but never started: that is what `invoke up` is for
    lazy = stack.invoke("logs", "lazy")
    assert lazy.returncode == 1 and "service 'lazy' has no container" in lazy.stderr
    assert "run invoke up first" in lazy.stderr
    assert "web-says-hello" in stack.invoke("logs", "web").stdout


def test_uptime_is_human_and_an_exit_by_signal_is_named() -> None:
    """Pure formatting over an inspected container: no engine needed."""
    from dataplatform.cli.platform import uptime
    from dataplatform.services import status
    from dataplatform.services.found import Found

    now = datetime.now(tz=UTC)

    def stamp(delta: timedelta) -> str:
        return (now - delta).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")

    running = Found(
        "db", {"Id": "1", "State": {"Status": "running", "StartedAt": stamp(timedelta(minutes=3))}}
    )
    killed = Found(
        "job",
        {
            "Id": "2",
            "State": {"Status": "exited", "ExitCode": 137, "FinishedAt": stamp(timedelta(hours=2))},
        },
    )
    rows = {r.service: r for r in status.rows({"db": running, "job": killed}, None, {})}
    assert uptime(rows["db"]) == "3m"
    assert uptime(rows["job"]) == "ended 2h ago"
    assert rows["job"].shown_state == "exited (137, SIGKILL): failed"


def test_starting_invoke_imports_no_commands_dependencies() -> None:
    """Every invoke command pays for importing the namespace (each cli module). What only some
    commands use — the docker SDK, jinja2, rich's tables and live display, and the toolkit's
    own engines — must be imported inside those commands, or `invoke status` (and every other
    command) starts a tenth of a second slower for each. Checked in a fresh interpreter."""
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys, tasks\n"
        "heavy = ('docker', 'jinja2', 'requests', 'psycopg', 'rich.table', 'rich.live',\n"
        "         'dataplatform.images.fingerprint', 'dataplatform.images.housekeeping',\n"
        "         'dataplatform.warehouse', 'dataplatform.scaffold', 'dataplatform.cdc',\n"
        "         'dataplatform.services', 'dataplatform.catalog', 'dataplatform.pipelines',\n"
        "         'dataplatform.orchestration', 'dataplatform.workstation')\n"
        "print(' '.join(sorted(m for m in sys.modules\n"
        "                      if any(m == h or m.startswith(h + '.') for h in heavy))))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [], done.stdout


def test_invoke_caches_the_toolkits_bytecode(project: TempProject, tmp_path: Path) -> None:
    """invoke turns bytecode caching off for what tasks.py imports; without it back on, every
    command compiled every toolkit module it loads again (a tenth of a second and more)."""
    prefix = tmp_path / "pycache"
    env = clean_env(PYTHONDONTWRITEBYTECODE=None, PYTHONPYCACHEPREFIX=str(prefix))
    listed = run([str(Path(sys.executable).with_name("invoke")), "--list"], project.root, env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    tag = sys.implementation.cache_tag
    cached = {path.parts[-3:] for path in prefix.rglob(f"*.{tag}.pyc")}
    assert ("dataplatform", "cli", f"platform.{tag}.pyc") in cached, sorted(cached)
    assert ("dataplatform", "cli", f"namespace.{tag}.pyc") in cached
