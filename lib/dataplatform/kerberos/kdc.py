"""A local test realm from Debian's krb5 binaries: `kdb5_util create -s`, one
`addprinc -randkey` and one `ktadd` per listed principal, then `krb5kdc` (and `kadmind`) in the
foreground. Running it again keeps the database and adds only what is missing, so a persistent
volume keeps principals and keys across restarts.

The kdc image runs this file (`python3 kdc.py serve`), and so do the tests' KDC on a loopback
port. Standard library only. Nothing secret is printed: the master password is random and
reaches kdb5_util on its stdin only (the stash file keeps the key); keys go into keytab files
(mode 0600 unless asked), never to output.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

# A principal as written in the list: primary[/instance][@REALM], letters, digits, . _ -
PRINCIPAL = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?"
    r"(?:@[A-Za-z0-9][A-Za-z0-9._-]*)?$"
)
REALM = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


class RealmError(Exception):
    """A bad realm or principal name (one line)."""


def principal_problem(name: str, realm: str) -> str | None:
    """Why `name` cannot be created in `realm`, or None."""
    if not PRINCIPAL.match(name):
        return (
            f"{name!r} is not a principal name (primary[/instance], letters, digits, "
            "'.', '_' or '-', e.g. postgres/postgres or alice)"
        )
    _, at, named_realm = name.partition("@")
    if at and named_realm != realm:
        return f"{name!r} names realm {named_realm}, but the realm is {realm}"
    return None


def qualified(name: str, realm: str) -> str:
    return name if "@" in name else f"{name}@{realm}"


def keytab_file(name: str) -> str:
    """The keytab a principal's keys go to: `postgres/postgres` → postgres_postgres.keytab."""
    return name.partition("@")[0].replace("/", "_") + ".keytab"


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (f"{d}/{name}" for d in SBIN if os.access(f"{d}/{name}", os.X_OK)), None
    )
    if not found:
        raise RealmError(
            f"{name} not found — install krb5-kdc, krb5-admin-server and "
            "krb5-user (apt-get install krb5-kdc krb5-admin-server krb5-user)"
        )
    return found


class Realm:
    """The files of one realm under `directory`: kdc.conf, krb5.conf (for clients of this
    KDC), the database and its stash."""

    def __init__(
        self,
        directory: Path,
        realm: str,
        port: int = 88,
        host: str = "127.0.0.1",
        listen: str | None = None,
        max_life: str = "10h",
        admin_port: int = 749,
    ):
        if not REALM.match(realm):
            raise RealmError(
                f"realm {realm!r} is not valid: upper-case letters, digits, "
                "'.', '_' or '-' (e.g. DEV.LOCAL)"
            )
        self.directory, self.realm, self.port, self.host = Path(directory), realm, port, host
        self.listen, self.max_life, self.admin_port = listen, max_life, admin_port

    @property
    def kdc_conf(self) -> Path:
        return self.directory / "kdc.conf"

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5_CONFIG": str(self.krb5_conf),
        }

    def write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        d = self.directory
        ports = (
            f" kdc_listen = {self.listen}:{self.port}\n kdc_tcp_listen = {self.listen}:"
            f"{self.port}\n"
            if self.listen
            else f" kdc_ports = {self.port}\n kdc_tcp_ports = {self.port}\n"
        )
        self.kdc_conf.write_text(
            f"[kdcdefaults]\n{ports}\n[realms]\n {self.realm} = {{\n"
            f"  database_name = {d}/principal\n  key_stash_file = {d}/stash\n"
            f"  acl_file = {d}/kadm5.acl\n  max_life = {self.max_life}\n"
            f"  max_renewable_life = 7d\n  kadmind_port = {self.admin_port}\n }}\n"
            f"[logging]\n kdc = FILE:{d}/kdc.log\n admin_server = FILE:{d}/kadmind.log\n"
        )
        self.krb5_conf.write_text(
            client_config(self.realm, f"{self.host}:{self.port}", f"{self.host}:{self.admin_port}")
        )
        (d / "kadm5.acl").write_text(f"*/admin@{self.realm} *\n")

    def create(self) -> bool:
        """Make the database unless it exists; True when it was made."""
        self.write_config()
        if (self.directory / "principal").exists():
            return False
        password = secrets.token_urlsafe(24)  # on stdin: never on a command line (ps)
        subprocess.run(
            [_tool("kdb5_util"), "create", "-s", "-r", self.realm],
            input=f"{password}\n{password}\n".encode(),
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return True

    def kadmin(self, query: str) -> str:
        done = subprocess.run(
            [_tool("kadmin.local"), "-r", self.realm, "-q", query],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or "error" in done.stderr.lower():
            raise RealmError(f"kadmin.local {query.split()[0]}: {done.stderr.strip()}")
        return done.stdout

    def principals(self) -> set[str]:
        listed = self.kadmin("listprincs")
        return {line.strip() for line in listed.splitlines() if "@" in line}

    def add(self, names: list[str], keytab_dir: Path, keytab_mode: int = 0o600) -> list[str]:
        """Create the principals that do not exist and export keytabs that are missing;
        returns what was done, one line each (no key material)."""
        for name in names:
            if problem := principal_problem(name, self.realm):
                raise RealmError(problem)
        keytab_dir.mkdir(parents=True, exist_ok=True)
        existing = self.principals()
        done = []
        for name in names:
            full = qualified(name, self.realm)
            if full not in existing:
                self.kadmin(f'addprinc -randkey -maxlife "{self.max_life}" {full}')
                done.append(f"created principal {full}")
            keytab = keytab_dir / keytab_file(name)
            if not keytab.exists():
                # -norandkey keeps the database's key: keytabs exported earlier stay valid
                self.kadmin(f"ktadd -k {keytab} -norandkey {full}")
                keytab.chmod(keytab_mode)
                done.append(f"exported keytab {keytab} for {full}")
        return done


def client_config(realm: str, kdc: str, admin: str | None = None) -> str:
    """A krb5.conf for clients of one realm: no DNS lookups, FILE caches, canonical names kept
    as written (so `postgres/postgres` is asked for as written)."""
    admin_line = f"  admin_server = {admin}\n" if admin else ""
    return (
        f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n"
        f" dns_lookup_realm = false\n dns_canonicalize_hostname = false\n rdns = false\n"
        f" ignore_acceptor_hostname = true\n udp_preference_limit = 1\n"
        f"\n[realms]\n {realm} = {{\n  kdc = {kdc}\n{admin_line} }}\n"
    )


def serve(realm: Realm, admin: bool) -> int:
    """Run krb5kdc (and kadmind) in the foreground until SIGTERM/SIGINT."""
    children = []
    if admin:
        children.append(subprocess.Popen([_tool("kadmind"), "-nofork"], env=realm.env))
    kdc = subprocess.Popen([_tool("krb5kdc"), "-n"], env=realm.env)
    children.append(kdc)

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = kdc.wait()
    stop()
    for child in children:
        child.wait()
    return code


def health(keytab_dir: Path, names: list[str], port: int) -> int:
    """0 when every listed principal's keytab is there and the KDC accepts connections."""
    import socket

    missing = [keytab_file(n) for n in names if not (keytab_dir / keytab_file(n)).exists()]
    if missing:
        print(f"unhealthy: no keytab yet: {', '.join(missing)}")
        return 1
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    except OSError as exc:
        print(f"unhealthy: the KDC does not answer on port {port}: {exc.strerror or exc}")
        return 1
    print(f"healthy: KDC on port {port}, {len(names)} keytab(s)")
    return 0


def _env_list(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", value) if part]


def main(argv: list[str] | None = None) -> int:
    e = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("init", "serve", "health"))
    parser.add_argument("--dir", default=e("KDC_DATA", "/var/lib/krb5kdc/dataplatform"))
    parser.add_argument("--realm", default=e("KRB5_REALM", "DEV.LOCAL"))
    parser.add_argument(
        "--principals",
        default=e("KDC_PRINCIPALS", ""),
        help="space- or comma-separated principal names",
    )
    parser.add_argument("--keytabs", default=e("KDC_KEYTABS", "/keytabs"))
    parser.add_argument("--keytab-mode", default=e("KDC_KEYTAB_MODE", "0600"))
    parser.add_argument("--port", type=int, default=int(e("KDC_PORT", "88")))
    parser.add_argument("--admin-port", type=int, default=int(e("KDC_ADMIN_PORT", "749")))
    parser.add_argument(
        "--host",
        default=e("KDC_HOST", "127.0.0.1"),
        help="how clients reach this KDC (written to krb5.conf)",
    )
    parser.add_argument("--listen", default=e("KDC_LISTEN") or None)
    parser.add_argument("--max-life", default=e("KDC_MAX_LIFE", "10h"))
    parser.add_argument("--no-admin", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "health":
        return health(Path(args.keytabs), _env_list(args.principals), args.port)
    try:
        realm = Realm(
            Path(args.dir),
            args.realm,
            args.port,
            args.host,
            args.listen,
            args.max_life,
            args.admin_port,
        )
        names = _env_list(args.principals)
        for name in names:  # before anything is made
            if problem := principal_problem(name, realm.realm):
                raise RealmError(problem)
        if realm.create():
            print(f"kdc: created realm {realm.realm} in {realm.directory}", flush=True)
        for line in realm.add(names, Path(args.keytabs), int(args.keytab_mode, 8)):
            print(f"kdc: {line}", flush=True)
    except RealmError as exc:
        print(f"kdc: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"kdc: {Path(exc.cmd[0]).name} failed: {(exc.stderr or b'').decode().strip()}",
            file=sys.stderr,
        )
        return 1
    if args.action == "init":
        return 0
    print(f"kdc: serving {realm.realm} on port {realm.port}", flush=True)
    return serve(realm, not args.no_admin)


if __name__ == "__main__":
    sys.exit(main())
