"""invoke setup and invoke doctor: every check made to pass and to fail for real."""

from __future__ import annotations

import base64
import json
import socket
import stat
from pathlib import Path

import pytest

from dataplatform.images import engine
from dataplatform.project import Project
from dataplatform.workstation import checks, envfile
from support import TempProject, copy_from_checkout, free_port, new_checkout


@pytest.fixture
def repo(project: TempProject) -> TempProject:
    copy_from_checkout("templates", project.root)
    return project


def env_values(project: TempProject) -> dict[str, str]:
    return envfile.read(project.root / ".env").values


def test_setup_writes_a_private_env_with_fresh_secrets_and_is_idempotent(repo: TempProject) -> None:
    first = repo.invoke("setup")
    assert first.returncode == 0, first.stderr
    path = repo.root / ".env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = env_values(repo)
    assert set(values) >= {
        "POSTGRES_PASSWORD",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_SECRET_KEY",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
    }
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
    assert result.stderr.strip() == (
        "✗ .env:2: not KEY=VALUE — fix or remove that line; .env was left as it is"
    )
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


@pytest.mark.docker
def test_ports_of_our_running_service_pass_and_another_projects_container_is_named(
    project: TempProject, busybox_image: str, docker_client, tmp_path: Path
) -> None:
    """doctor asks which container holds a busy port the way `up` does (the one engine list,
    `Observed.port_holder`): our own running service's port is fine (up replaces it); for
    another checkout the same port is held by that container, named, not by "docker-proxy"."""
    port = free_port()
    project.services(
        f"  web:\n    image: {busybox_image}\n    command: [sleep, '600']\n"
        f"    stop_signal: SIGKILL\n    ports: ['127.0.0.1:{port}:8080']\n"
    )
    started = project.invoke("up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        engine.reset()
        ours = checks.ports(Project(project.root))
        assert ours.status == checks.OK, ours.observed
        other = new_checkout(tmp_path / "other")
        (other / "platform/services.yaml").write_text(
            f"namespace: {project.namespace}-other\nservices:\n  api:\n    image: x\n"
            f"    ports: ['127.0.0.1:{port}:80']\n"
        )
        theirs = checks.ports(Project(other))
        assert theirs.status == checks.FAIL
        assert theirs.observed.startswith(
            f"{port} (api) held by container {project.namespace}-web ("
        ), theirs.observed
        assert theirs.observed.endswith(f", namespace {project.namespace})"), theirs.observed
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"dataplatform.project={project.namespace}"}
        ):
            container.remove(force=True)
        for network in docker_client.networks.list(
            filters={"label": f"dataplatform.project={project.namespace}"}
        ):
            network.remove()


def test_env_keys_present_missing_and_left_at_default(repo: TempProject) -> None:
    repo.services(
        "  db:\n    image: x\n    environment:\n      P: ${POSTGRES_PASSWORD}\n"
        "      Q: ${EXTRA_KEY}\n      R: ${OPTIONAL:-fine}\n"
    )
    project = Project(repo.root)
    assert checks.env_file(project).observed == ".env missing"
    assert repo.invoke("setup").returncode == 0
    missing = checks.env_file(project)
    assert missing.status == checks.FAIL and missing.observed == "missing EXTRA_KEY"
    with open(repo.root / ".env", "a") as handle:
        handle.write("EXTRA_KEY=1\n")
    assert checks.env_file(project).status == checks.OK
    assert checks.secrets(project).status == checks.OK
    text = (repo.root / ".env").read_text()
    (repo.root / ".env").write_text(
        "\n".join(
            "AIRFLOW_SECRET_KEY=<generate:secret>" if line.startswith("AIRFLOW_SECRET") else line
            for line in text.splitlines()
        )
        + "\n"
    )
    left = checks.secrets(project)
    assert left.status == checks.FAIL
    assert "AIRFLOW_SECRET_KEY (.env:" in left.observed and "template default" in left.observed


def _follow(repo: TempProject, check) -> None:
    """Do what a doctor fix says, as a person would (only the fixes these tests expect)."""
    fix = check.fix
    if fix.startswith("delete the line(s) of "):
        keys = fix.removeprefix("delete the line(s) of ").split(" from .env")[0].split(", ")
        path = repo.root / ".env"
        path.write_text(
            "".join(
                line
                for line in path.read_text().splitlines(keepends=True)
                if line.split("=", 1)[0] not in keys
            )
        )
        assert "run invoke setup" in fix
        assert repo.invoke("setup").returncode == 0
    elif fix == "chmod 600 .env":
        (repo.root / ".env").chmod(0o600)
    else:
        raise AssertionError(f"unexpected fix: {fix}")


def test_an_empty_value_is_a_value_not_an_unclosed_quote(repo: TempProject) -> None:
    repo.write(".env", "EMPTY=\nQUOTED_EMPTY=''\nexport SPACED = \n")
    result = repo.invoke("setup")
    assert result.returncode == 0, result.stderr
    values = env_values(repo)
    assert (values["EMPTY"], values["QUOTED_EMPTY"], values["SPACED"]) == ("", "", "")
    assert checks.env_file(Project(repo.root)).status == checks.OK
    repo.write(".env", 'A=1\nB="\n')  # a lone quote still is one
    assert envfile.read(repo.root / ".env").malformed == [(2, "B: unclosed quote")]


def test_a_missing_key_gets_a_fix_that_makes_it_pass(repo: TempProject) -> None:
    """A key setup cannot write (not in the template) is not sent back to setup; one that
    setup does write is, and setup then adds it."""
    repo.services(
        "  db:\n    image: x\n    environment:\n      P: ${POSTGRES_PASSWORD}\n"
        "      Q: ${EXTRA_KEY}\n"
    )
    project = Project(repo.root)
    repo.write(".env", "CUSTOM=1\n", mode=0o600)
    missing = checks.env_file(project)
    assert missing.observed == "missing EXTRA_KEY, POSTGRES_PASSWORD"
    assert missing.fix == (
        "invoke setup (adds POSTGRES_PASSWORD, keeps your values); add "
        "EXTRA_KEY=… to .env (or to templates/env.template so invoke setup "
        "writes it for everyone)"
    )
    assert repo.invoke("setup").returncode == 0
    after_setup = checks.env_file(project)
    assert after_setup.observed == "missing EXTRA_KEY"
    assert after_setup.fix.startswith("add EXTRA_KEY=… to .env")

    template = repo.root / "templates/env.template"  # the fix's second way: the template
    template.write_text(template.read_text() + "EXTRA_KEY=shared-default\n")
    assert repo.invoke("setup").returncode == 0
    assert checks.env_file(project).status == checks.OK
    assert env_values(repo)["EXTRA_KEY"] == "shared-default"


NOT_FERNET = "not a Fernet key (32 url-safe base64-encoded bytes)"


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("POSTGRES_PASSWORD", "postgres", "a well-known default"),
        ("POSTGRES_PASSWORD", "", "left at the template default"),
        ("MINIO_SECRET_KEY", "x7Qz9", "shorter than 12 characters"),
        ("AIRFLOW_FERNET_KEY", "not-a-fernet-key", NOT_FERNET),
        # 32 bytes, but standard base64 with padding stripped: Fernet cannot decode it
        (
            "AIRFLOW_FERNET_KEY",
            base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("="),
            NOT_FERNET,
        ),
        ("AIRFLOW_FERNET_KEY", base64.urlsafe_b64encode(b"k" * 31).decode(), NOT_FERNET),
    ],
)
def test_weak_and_invalid_secrets_fail_doctor_until_fixed(
    repo: TempProject, key: str, value: str, problem: str
) -> None:
    assert repo.invoke("setup").returncode == 0
    project = Project(repo.root)
    assert checks.secrets(project).status == checks.OK
    envfile.set_value(repo.root, key, value)
    line = envfile.read(repo.root / ".env").lines[key]
    found = checks.secrets(project)
    assert (found.status, found.required) == (checks.FAIL, True)
    assert found.observed == f"{key} (.env:{line}) {problem}"
    assert value not in found.observed + found.fix or not value  # no secret is shown
    _follow(repo, found)
    assert checks.secrets(project).status == checks.OK
    assert envfile.read(repo.root / ".env").values[key] != value


def test_a_weak_secret_from_the_environment_is_named_there(repo: TempProject, monkeypatch) -> None:
    assert repo.invoke("setup").returncode == 0
    monkeypatch.setenv("POSTGRES_PASSWORD", "password")
    found = checks.secrets(Project(repo.root))
    assert found.observed == "POSTGRES_PASSWORD (the environment) a well-known default"
    assert "in your environment" in found.fix


def test_a_valid_fernet_key_passes() -> None:
    key = envfile.generate("fernet")
    assert envfile.secret_problem("fernet", key) is None
    assert envfile.secret_problem("password", envfile.generate("password")) is None
    assert envfile.secret_problem("password", "postgres-admin", user="postgres-admin") == (
        "a well-known default"
    )


def test_an_env_file_others_can_read_fails_doctor(repo: TempProject) -> None:
    assert repo.invoke("setup").returncode == 0
    project = Project(repo.root)
    assert checks.env_mode(project).status == checks.OK
    for mode, who in ((0o644, "group and others"), (0o640, "group"), (0o604, "others")):
        (repo.root / ".env").chmod(mode)
        found = checks.env_mode(project)
        assert (found.status, found.required) == (checks.FAIL, True)
        assert found.observed == f".env is mode {mode:04o}: open to {who}"
    doctor = repo.invoke("doctor", "--json", DOCKER_HOST="unix:///nonexistent.sock")
    assert json.loads(doctor.stdout)["ok"] is False
    _follow(repo, checks.env_mode(project))
    assert checks.env_mode(project).status == checks.OK


def test_setup_rejects_a_registry_that_is_not_one(repo: TempProject) -> None:
    assert repo.invoke("setup").returncode == 0
    before = (repo.root / ".env").read_text()
    for value, problem in (
        ("not a registry", "is not HOST[:PORT][/PREFIX]"),
        (
            "https://registry.example.com/team",
            "has a scheme: leave it out (registry.example.com/team)",
        ),
        ("team", "has no registry host: Docker would read 'team' as a Docker Hub namespace"),
        ("127.0.0.1:99999/team", "has port 99999, outside 1-65535"),
        ("registry.example.com/Team", "has upper-case letters after the host"),
    ):
        result = repo.invoke("setup", "--registry", value)
        assert result.returncode == 1, value
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"✗ --registry {value!r} {problem}"), line
        assert (repo.root / ".env").read_text() == before
    for good in (
        "127.0.0.1:5000/team",
        "localhost:5000",
        "registry.example.com",
        "[::1]:5000/a/b",
        "ghcr.io/org/sub-team",
    ):
        assert repo.invoke("setup", "--registry", good).returncode == 0, good
        assert env_values(repo)["DATAPLATFORM_REGISTRY"] == good


def test_a_bad_registry_in_env_is_reported_not_a_crash(repo: TempProject) -> None:
    assert repo.invoke("setup").returncode == 0
    envfile.set_value(repo.root, "DATAPLATFORM_REGISTRY", "not a registry")
    line = envfile.read(repo.root / ".env").lines["DATAPLATFORM_REGISTRY"]
    found = checks.registry(Project(repo.root))
    assert (found.status, found.required) == (checks.FAIL, True)
    assert found.observed.startswith(
        f"DATAPLATFORM_REGISTRY='not a registry' (.env:{line}) is not HOST[:PORT][/PREFIX]"
    )
    doctor = repo.invoke("doctor", DOCKER_HOST="unix:///nonexistent.sock")
    assert doctor.returncode == 1 and "Traceback" not in doctor.stdout + doctor.stderr
    assert "✗ registry" in doctor.stdout
    repo.services("")
    built = repo.doit()
    assert built.returncode != 0 and "Traceback" not in built.stdout + built.stderr
    assert (
        f".env:{line}: DATAPLATFORM_REGISTRY: 'not a registry' is not HOST[:PORT][/PREFIX]"
        in built.stdout + built.stderr
    )


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
    assert set(by_name) == {
        "python",
        "packages",
        "git",
        "docker",
        "memory",
        "ports",
        "env",
        "env-mode",
        "secrets",
        "cdc-dsn",
        "wsl",
        "registry",
    }
    human = repo.invoke("doctor", DOCKER_HOST="unix:///nonexistent.sock")
    assert "✗ env" in human.stdout and "→ invoke setup" in human.stdout


def test_a_cdc_dsn_without_the_platform_password_is_flagged(repo: TempProject) -> None:
    """An `.env` from before the DSN read POSTGRES_PASSWORD carries no password: doctor says
    so and its fix (the template's line) makes the DSN carry it."""
    assert repo.invoke("setup").returncode == 0
    project = Project(repo.root)
    assert checks.cdc_dsn(project).status == checks.OK
    old = "postgres://postgres@localhost:5432/warehouse?sslmode=disable"
    envfile.set_value(repo.root, "CDC_POSTGRES_DSN", old)
    line = envfile.read(repo.root / ".env").lines["CDC_POSTGRES_DSN"]
    found = checks.cdc_dsn(project)
    assert found.status == checks.WARN
    assert found.observed == f"CDC_POSTGRES_DSN (.env:{line}) carries no password"
    envfile.set_value(repo.root, "CDC_POSTGRES_DSN", old.replace("postgres@", "postgres:x@"))
    assert "other than POSTGRES_PASSWORD" in checks.cdc_dsn(project).observed
    fixed = found.fix.removeprefix("set ").split(" in .env")[0]
    envfile.set_value(repo.root, *fixed.split("=", 1))
    assert checks.cdc_dsn(project).status == checks.OK
