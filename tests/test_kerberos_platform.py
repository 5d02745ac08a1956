"""End to end on the real Docker engine: doit builds the kdc and kerberos-sidecar images from
Debian's packages on a debootstrap base, `invoke up --profile kerberos` brings them up healthy
with a GSSAPI-only PostgreSQL, and a third container with `kerberos: true` logs in to it with
GSSAPI through the sidecar's shared cache.

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

from support import REPO, build_ca_certificates, clean_env, copy_from_checkout, run

pytestmark = pytest.mark.docker
GSS_PG_IMAGE = "dataplatform-test/kerberos-postgres:15"
STAT_GSSAPI = ("SELECT principal, gss_authenticated, encrypted FROM pg_stat_gssapi "
               "WHERE pid = pg_backend_pid()")


class Checkout:
    def __init__(self, root: Path, env: dict[str, str], namespace: str):
        self.root, self.env, self.namespace = root, env, namespace

    def doit(self, *args: str) -> subprocess.CompletedProcess:
        return run([sys.executable, "-m", "doit", *args], self.root, self.env, timeout=1800)

    def invoke(self, *args: str) -> subprocess.CompletedProcess:
        return run([str(Path(sys.executable).with_name("invoke")), *args], self.root,
                   self.env, timeout=900)


@pytest.fixture(scope="module")
def gss_pg_image(docker_client, postgres_image) -> str:
    docker_client.images.build(path=str(REPO / "tests/images/kerberos-postgres"),
                               tag=GSS_PG_IMAGE, rm=True, buildargs={"BASE": postgres_image})
    return GSS_PG_IMAGE


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, docker_client, debian_image, gss_pg_image
             ) -> Iterator[Checkout]:
    root = tmp_path_factory.mktemp("kerberos-e2e") / "checkout"
    root.mkdir()
    for name in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / name, root / name)
    for part in ("templates", "lib/dataplatform/kerberos", "platform/images/kdc",
                 "platform/images/kerberos-sidecar"):
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
                filters={"label": f"dataplatform.project={namespace}"}):
            for tag in image.tags:
                docker_client.images.remove(tag, force=True)


def test_kdc_and_sidecar_come_up_healthy_and_a_third_container_logs_in_with_gssapi(
        checkout, docker_client):
    built = checkout.doit()
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-2000:]
    up = checkout.invoke("up", "--profile", "kerberos", "--timeout", "300")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]

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
    key_hex = [line.split("(0x")[1].rstrip(")") for line in keys.decode().splitlines()
               if "(0x" in line]
    assert key_hex
    printed = up.stdout + up.stderr + built.stdout + built.stderr + sidecar_logs + kdc_logs
    assert not any(key in printed for key in key_hex)
