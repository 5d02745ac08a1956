"""invoke setup and invoke doctor: every check made to pass and to fail for real."""

from __future__ import annotations

import base64
import json
import socket
import stat
from pathlib import Path

import pytest

from conftest import TempProject, copy_from_checkout
from dataplatform.images import engine
from dataplatform.project import Project
from dataplatform.workstation import checks, envfile


@pytest.fixture
def repo(project: TempProject) -> TempProject:
    copy_from_checkout("templates", project.root)
    return project


def env_values(project: TempProject) -> dict[str, str]:
    return envfile.read(project.root / ".env").values


def test_setup_writes_a_private_env_with_fresh_secrets_and_is_idempotent(
        repo: TempProject) -> None:
    first = repo.invoke("setup")
    assert first.returncode == 0, first.stderr
    path = repo.root / ".env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = env_values(repo)
    assert set(values) >= {"POSTGRES_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_FERNET_KEY",
                           "AIRFLOW_SECRET_KEY", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}
    assert len(base64.urlsafe_b64decode(values["AIRFLOW_FERNET_KEY"])) == 32
    assert len(values["POSTGRES_PASSWORD"]) >= 24
    for secret in ("POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "MINIO_SECRET_KEY"):
        assert values[secret] not in first.stdout + first.stderr  # never printed
    text = path.read_text()
    again = repo.invoke("setup")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert path.read_text() == text


def test_setup_keeps_existing_values_and_adds_only_missing_keys(repo: TempProject) -> None:
    repo.write(".env", "POSTGRES_PASSWORD=mine\nCUSTOM=1\n")
    result = repo.invoke("setup", "--registry", "127.0.0.1:5000/team/")
    assert result.returncode == 0, result.stderr
    values = env_values(repo)
    assert values["POSTGRES_PASSWORD"] == "mine" and values["CUSTOM"] == "1"
    assert values["DATAPLATFORM_REGISTRY"] == "127.0.0.1:5000/team"
    assert "POSTGRES_PASSWORD" not in result.stdout.split("added to .env:")[1].splitlines()[0]
    assert (repo.root / ".env").read_text().startswith("POSTGRES_PASSWORD=mine\nCUSTOM=1\n")


def test_a_malformed_env_is_reported_by_line_and_left_alone(repo: TempProject) -> None:
    repo.write(".env", "A=1\nthis line is wrong\nB='unclosed\n")
    before = (repo.root / ".env").read_text()
    result = repo.invoke("setup")
    assert result.returncode == 1
    assert result.stderr.strip() == ("✗ .env:2: not KEY=VALUE — fix or remove that line; .env "
                                     "was left as it is")
    assert (repo.root / ".env").read_text() == before
    doctor = checks.env_file(Project(repo.root))
    assert (doctor.status, doctor.observed) == (checks.FAIL, ".env:2: not KEY=VALUE")


def test_python_and_packages_and_git() -> None:
    assert checks.python_version((3, 11, 7)).status == checks.OK
    too_old = checks.python_version((3, 10, 4))
    assert too_old.status == checks.FAIL and "3.11" in too_old.fix
    assert checks.packages().status == checks.OK
    missing = checks.packages("no-such-distribution-here")
    assert missing.status == checks.FAIL and "not installed" in missing.observed
    assert checks.git_present().status == checks.OK


def test_git_missing(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = checks.git_present()
    assert result.status == checks.FAIL and "install git" in result.fix


@pytest.mark.docker
def test_docker_engine_reachable_and_not(docker_client, monkeypatch) -> None:
    engine.reset()
    assert checks.docker_engine().status == checks.OK
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    engine.reset()
    try:
        result = checks.docker_engine()
        assert result.status == checks.FAIL and "start Docker" in result.fix
    finally:
        monkeypatch.delenv("DOCKER_HOST")
        engine.reset()


def test_memory(tmp_path: Path) -> None:
    low = tmp_path / "meminfo"
    low.write_text("MemTotal: 2000000 kB\nMemAvailable: 1000000 kB\n")
    assert checks.free_memory(low).status == checks.WARN
    plenty = tmp_path / "meminfo2"
    plenty.write_text("MemTotal: 32000000 kB\nMemAvailable: 16000000 kB\n")
    assert checks.free_memory(plenty).status == checks.OK


def test_ports_free_and_held(repo: TempProject) -> None:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        free_port = probe.getsockname()[1]
    repo.services(f"  web:\n    image: x\n    ports: ['{free_port}:80']\n")
    assert checks.ports(Project(repo.root)).status == checks.OK
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        held = holder.getsockname()[1]
        repo.services(f"  web:\n    image: x\n    ports: ['{held}:80']\n")
        result = checks.ports(Project(repo.root))
    assert result.status == checks.FAIL
    assert f"{held} (web) held by process" in result.observed


def test_env_keys_present_missing_and_left_at_default(repo: TempProject) -> None:
    repo.services("  db:\n    image: x\n    environment:\n      P: ${POSTGRES_PASSWORD}\n"
                  "      Q: ${EXTRA_KEY}\n      R: ${OPTIONAL:-fine}\n")
    project = Project(repo.root)
    assert checks.env_file(project).observed == ".env missing"
    assert repo.invoke("setup").returncode == 0
    missing = checks.env_file(project)
    assert missing.status == checks.FAIL and missing.observed == "missing EXTRA_KEY"
    with open(repo.root / ".env", "a") as handle:
        handle.write("EXTRA_KEY=1\n")
    assert checks.env_file(project).status == checks.OK
    text = (repo.root / ".env").read_text()
    (repo.root / ".env").write_text(
        "\n".join("AIRFLOW_SECRET_KEY=<generate:secret>" if line.startswith("AIRFLOW_SECRET")
                  else line for line in text.splitlines()) + "\n")
    left = checks.env_file(project)
    assert left.status == checks.FAIL and "AIRFLOW_SECRET_KEY" in left.observed


def test_wsl(tmp_path: Path) -> None:
    version = tmp_path / "version"
    version.write_text("Linux version 5.15.153.1-microsoft-standard-WSL2\n")
    on_windows = checks.wsl(Project(Path("/mnt/c/Users/ada/repo")), version)
    assert on_windows.status == checks.WARN and "Linux home" in on_windows.fix
    assert checks.wsl(Project(Path("/home/ada/repo")), version).status == checks.OK
    version.write_text("Linux version 6.1.0-debian\n")
    assert checks.wsl(Project(Path("/mnt/c/x")), version).observed == "not WSL"


@pytest.mark.registry
def test_registry_reachable_and_not(repo: TempProject, registry: str, monkeypatch) -> None:
    monkeypatch.setenv("DATAPLATFORM_REGISTRY", registry)
    assert checks.registry(Project(repo.root)).status == checks.OK
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("DATAPLATFORM_REGISTRY", f"127.0.0.1:{closed}/team")
    result = checks.registry(Project(repo.root))
    assert result.status == checks.WARN and "does not answer" in result.observed


def test_doctor_json_and_exit_code(repo: TempProject) -> None:
    failing = repo.invoke("doctor", "--json", DOCKER_HOST="unix:///nonexistent.sock")
    assert failing.returncode == 1  # no .env, no engine: required checks fail
    document = json.loads(failing.stdout)
    by_name = {c["name"]: c for c in document["checks"]}
    assert by_name["env"]["status"] == "fail" and by_name["env"]["fix"] == "invoke setup"
    assert by_name["docker"]["status"] == "fail" and document["ok"] is False
    assert set(by_name) == {"python", "packages", "git", "docker", "memory", "ports", "env",
                            "wsl", "registry"}
    human = repo.invoke("doctor", DOCKER_HOST="unix:///nonexistent.sock")
    assert "✗ env" in human.stdout and "→ invoke setup" in human.stdout
