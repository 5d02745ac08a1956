"""A real Kerberos realm for the tests: Debian's krb5kdc on a loopback port in a temp folder,
made by the very script the kdc image runs (lib/dataplatform/kerberos/kdc.py), and a real
PostgreSQL 15 cluster that accepts only GSSAPI-encrypted logins (`hostgssenc … gss
include_realm=0`, `krb_server_keyfile`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from support import REPO, free_port, postgres_bindir, postgres_cluster, require

KERBEROS = REPO / "lib" / "dataplatform" / "kerberos"
KDC_SCRIPT = KERBEROS / "kdc.py"
SIDECAR_SCRIPT = KERBEROS / "sidecar.py"
PG_SPN = "postgres/localhost"  # libpq asks for postgres/<host>; tests connect to host=localhost


def require_krb5() -> None:
    missing = [
        tool
        for tool in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist")
        if not (shutil.which(tool) or Path("/usr/sbin", tool).exists())
    ]
    require(
        not missing,
        f"Kerberos binaries missing ({', '.join(missing)}) — apt-get install "
        "krb5-kdc krb5-admin-server krb5-user",
    )


def wait_for_port(port: int, process: subprocess.Popen, what: str, limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


@dataclass
class Kdc:
    """A realm under `directory`; `start()`/`stop()` run krb5kdc on `port`."""

    directory: Path
    realm: str
    principals: list[str]
    max_life: str = "10h"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def keytabs(self) -> Path:
        return self.directory / "keytabs"

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "realm" / "krb5.conf"

    def keytab(self, principal: str) -> Path:
        return self.keytabs / (principal.replace("/", "_") + ".keytab")

    def args(self, action: str) -> list[str]:
        return [
            sys.executable,
            str(KDC_SCRIPT),
            action,
            "--dir",
            str(self.directory / "realm"),
            "--realm",
            self.realm,
            "--principals",
            " ".join(self.principals),
            "--keytabs",
            str(self.keytabs),
            "--port",
            str(self.port),
            "--listen",
            "127.0.0.1",
            "--max-life",
            self.max_life,
            "--no-admin",
        ]

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args("serve"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        wait_for_port(self.port, self.process, "krb5kdc")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def env(self, cache: Path | str | None = None) -> dict[str, str]:
        env = {**os.environ, "KRB5_CONFIG": str(self.krb5_conf)}
        env["KRB5CCNAME"] = f"FILE:{cache}" if cache else f"FILE:{self.directory}/no-cache"
        return env


@contextlib.contextmanager
def running_kdc(realm: str, principals: list[str], max_life: str = "10h") -> Iterator[Kdc]:
    require_krb5()
    base = Path(tempfile.mkdtemp(prefix="dataplatform-kdc-"))
    kdc = Kdc(base, realm, principals, max_life)
    try:
        kdc.start()
        yield kdc
    finally:
        kdc.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class GssPostgres:
    port: int
    sockets: Path

    def dsn(self, user: str, **extra: str) -> str:
        parts = {
            "host": "localhost",
            "port": str(self.port),
            "user": user,
            "dbname": "postgres",
            "gssencmode": "require",
            "connect_timeout": "10",
            **extra,
        }
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def admin(self):
        import psycopg

        return psycopg.connect(
            f"host={self.sockets} port={self.port} user=postgres dbname=postgres", autocommit=True
        )


@contextlib.contextmanager
def gss_postgres(keytab: Path, roles: list[str]) -> Iterator[GssPostgres]:
    """A PostgreSQL cluster on 127.0.0.1 whose only TCP entry is `hostgssenc … gss
    include_realm=0`, with `keytab` as krb_server_keyfile; `roles` may log in."""
    bindir = postgres_bindir()
    require(
        bindir is not None,
        "PostgreSQL server binaries are not installed (apt-get install postgresql)",
    )

    def server_keytab(folder: Path) -> dict[str, str]:
        shutil.copy(keytab, folder / "postgres.keytab")
        return {"krb_server_keyfile": str(folder / "postgres.keytab")}

    with postgres_cluster(
        bindir,
        listen="127.0.0.1",
        initdb=("-A", "trust"),
        hba="local all all trust\nhostgssenc all all 127.0.0.1/32 gss include_realm=0\n",
        prepare=server_keytab,
    ) as cluster:
        server = GssPostgres(cluster.port, Path(cluster.host))
        with server.admin() as conn:
            for role in roles:
                conn.execute(f'CREATE ROLE "{role}" LOGIN')
        yield server


def sidecar(action: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SIDECAR_SCRIPT), action, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_sidecar(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SIDECAR_SCRIPT), "renew", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(predicate, what: str, limit: float = 60, step: float = 0.2):
    """Poll `predicate` until truthy (returned); a bound so a broken feature fails, not hangs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def with_time_offset(cache: Path, target: Path, seconds: int) -> None:
    """Copy a FILE: cache with its KDC time offset header set to `seconds`: krb5 then stamps
    every request that far off the real clock — a real clock skew, without touching the
    machine's clock."""
    import struct

    data = cache.read_bytes()
    version, length = struct.unpack(">HH", data[:4])
    header = struct.pack(">HHii", 1, 8, seconds, 0)  # tag 1: KDC time offset (s, µs)
    target.write_bytes(struct.pack(">HH", version, len(header)) + header + data[4 + length :])
