"""End to end on the real Docker engine: doit builds the kdc and kerberos-sidecar images from
Debian's packages on a debootstrap base, `invoke up --profile kerberos` brings them up healthy
with a GSSAPI-only PostgreSQL, and a third container with `kerberos: true` logs in to it with
GSSAPI through the sidecar's shared cache; `invoke kerberos.test-login` logs in from inside
that running stack (one stack for the module: CI time is tight).

The PostgreSQL is the tests' Debian-built image with a GSSAPI-only pg_hba.conf
(tests/images/kerberos-postgres); everything Kerberos is what the repository ships."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kerberos_helpers import wait_until
from support import REPO, build_ca_certificates, clean_env, copy_from_checkout, run

pytestmark = pytest.mark.docker
GSS_PG_IMAGE = "dataplatform-test/kerberos-postgres:15"
STAT_GSSAPI = (
    "SELECT principal, gss_authenticated, encrypted FROM pg_stat_gssapi "
    "WHERE pid = pg_backend_pid()"
)


class Checkout:
    def __init__(self, root: Path, env: dict[str, str], namespace: str):
        self.root, self.env, self.namespace = root, env, namespace

    def doit(self, *args: str) -> subprocess.CompletedProcess:
        return run([sys.executable, "-m", "doit", *args], self.root, self.env, timeout=1800)

    def invoke(self, *args: str) -> subprocess.CompletedProcess:
        return run(
            [str(Path(sys.executable).with_name("invoke")), *args], self.root, self.env, timeout=900
        )


@pytest.fixture(scope="module")
def gss_pg_image(docker_client, postgres_image) -> str:
    docker_client.images.build(
        path=str(REPO / "tests/images/kerberos-postgres"),
        tag=GSS_PG_IMAGE,
        rm=True,
        buildargs={"BASE": postgres_image},
    )
    return GSS_PG_IMAGE


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, docker_client, debian_image, gss_pg_image) -> Iterator[Checkout]:
    root = tmp_path_factory.mktemp("kerberos-e2e") / "checkout"
    root.mkdir()
    for name in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / name, root / name)
    for part in (
        "templates",
        "lib/dataplatform/kerberos",
        "platform/images/kdc",
        "platform/images/kerberos-sidecar",
    ):
        copy_from_checkout(part, root)
    namespace = f"dptest-krb-{uuid.uuid4().hex[:6]}"
    (root / "platform/services.yaml").write_text(f"""\
namespace: {namespace}
services:
  kdc:
    template: "kdc:1.20"
    profiles: [kerberos]
    environment:
      KDC_PRINCIPALS: "airflow postgres/pg"
      KDC_KEYTAB_MODE: "0644"  # the PostgreSQL server reads its keytab as user postgres
  kerberos-sidecar:
    template: "kerberos-sidecar:1.20"
    profiles: [kerberos]
  pg:
    image: {gss_pg_image}
    environment:
      KRB_SERVER_KEYFILE: /keytabs/postgres_pg.keytab
      GSS_ROLES: airflow
    volumes: ["kerberos-keytabs:/keytabs:ro"]
    depends_on:
      kdc: {{condition: service_healthy}}
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "/var/run/postgresql"]
      interval: 1s
      retries: 60
    profiles: [kerberos]
  client:
    image: {gss_pg_image}
    kerberos: true
    command: ["psql", "host=pg user=airflow dbname=postgres gssencmode=require", "-tAc",
              "{STAT_GSSAPI}"]
    depends_on:
      kerberos-sidecar: {{condition: service_healthy}}
      pg: {{condition: service_healthy}}
    profiles: [kerberos]
""")
    (root / ".env").write_text(f"KERBEROS_BASE_IMAGE={debian_image}\n")
    env = clean_env(DATAPLATFORM_BUILD_CA_CERTS=build_ca_certificates() or None)
    made = Checkout(root, env, namespace)
    try:
        yield made
    finally:
        made.invoke("down", "--volumes", "--yes")
        for image in docker_client.images.list(
            filters={"label": f"dataplatform.project={namespace}"}
        ):
            for tag in image.tags:
                docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def stack(checkout) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The images built and the kerberos profile up, once for the module: (doit, up)."""
    built = checkout.doit()
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-2000:]
    up = checkout.invoke("up", "--profile", "kerberos", "--timeout", "300")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
    return built, up


def test_kdc_and_sidecar_come_up_healthy_and_a_third_container_logs_in_with_gssapi(
    checkout, stack, docker_client
):
    built, up = stack

    def container(service: str):
        return docker_client.containers.get(f"{checkout.namespace}-{service}")

    for service in ("kdc", "kerberos-sidecar", "pg"):
        assert container(service).attrs["State"]["Health"]["Status"] == "healthy", service
    client = container("client")
    deadline = time.monotonic() + 120  # a bound, so a hang fails instead of blocking CI
    while client.status != "exited" and time.monotonic() < deadline:
        time.sleep(0.5)
        client.reload()
    logs = client.logs().decode()
    assert client.attrs["State"]["ExitCode"] == 0, logs
    assert logs.strip() == "airflow@DEV.LOCAL|t|t"
    mounts = {m["Destination"]: m for m in client.attrs["Mounts"]}
    assert mounts["/krb"]["Name"] == f"{checkout.namespace}_kerberos-cache"
    assert mounts["/krb"]["RW"] is False
    env = dict(item.split("=", 1) for item in client.attrs["Config"]["Env"])
    assert env["KRB5CCNAME"] == "FILE:/krb/ccache" and env["KRB5_CONFIG"] == "/krb/krb5.conf"

    # no key material in what the platform printed or generated
    sidecar_logs = container("kerberos-sidecar").logs().decode()
    assert "ticket for airflow valid until" in sidecar_logs
    kdc_logs = container("kdc").logs().decode()
    assert "exported keytab /keytabs/airflow.keytab for airflow@DEV.LOCAL" in kdc_logs
    code, keys = container("kdc").exec_run(["klist", "-k", "-K", "/keytabs/airflow.keytab"])
    assert code == 0
    key_hex = [
        line.split("(0x")[1].rstrip(")") for line in keys.decode().splitlines() if "(0x" in line
    ]
    assert key_hex
    printed = up.stdout + up.stderr + built.stdout + built.stderr + sidecar_logs + kdc_logs
    assert not any(key in printed for key in key_hex)


def _no_clients_left(docker_client, namespace: str) -> None:
    """The client containers are auto-removed: gone once the engine finished removing them (a
    bound, not a sleep: vfs storage deletes a container's files slowly)."""

    def gone() -> bool:
        return not docker_client.containers.list(
            all=True,
            filters={
                "label": f"dataplatform.project={namespace}",
                "name": f"{namespace}-kerberos-test-login",
            },
        )

    wait_until(gone, "the test-login client container to be removed", limit=120)


def test_test_login_runs_inside_the_platform_with_the_sidecars_ticket(
    checkout, stack, docker_client
):
    """By default (the sidecar runs) the login goes from a client container on the stack's
    network to pg:5432 by name — pg publishes no port, so no host path could reach it."""
    result = checkout.invoke("kerberos.test-login", "pg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == (
        "✓ pg (pg:5432 inside the platform, role airflow, principal postgres/pg, ticket from "
        "kerberos-sidecar): logged in as airflow@DEV.LOCAL with GSSAPI, encrypted"
    )
    _no_clients_left(docker_client, checkout.namespace)


def test_test_login_inside_the_platform_explains_a_wrong_spn_in_one_line(
    checkout, stack, docker_client
):
    result = checkout.invoke(
        "kerberos.test-login", "pg", "--from", "platform", "--krbsrvname", "HTTP"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("✗ pg (pg:5432 inside the platform, principal HTTP/pg, ")
    assert ": wrong SPN: the server's service principal is not HTTP/pg@DEV.LOCAL" in lines[0]
    _no_clients_left(docker_client, checkout.namespace)


def test_test_login_to_a_service_that_is_not_running_is_one_line(checkout, stack, docker_client):
    """`client` runs its psql and exits: then there is nothing to log in to."""
    client = docker_client.containers.get(f"{checkout.namespace}-client")

    def exited() -> bool:
        client.reload()
        return client.status == "exited"

    wait_until(exited, "the client service to exit", limit=120)
    result = checkout.invoke("kerberos.test-login", "client")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "✗ service client is not running — start it (invoke up client), then try again"
    )
