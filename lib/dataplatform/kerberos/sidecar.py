"""The kerberos-sidecar: keeps a valid ticket in a `FILE:` cache that other containers read
through a shared volume, and says whether it is healthy.

- `renew`: `kinit -kt KEYTAB -c FILE:… PRINCIPAL` whenever the ticket has less than
  `--renew-before` seconds left (checked every `--interval` seconds). kinit writes a temporary
  cache that then replaces the shared one in one rename, so a reader never sees half a cache.
- `forward`: copies a cache the host keeps (WSL2: `kinit` on the workstation, mounted
  read-only) into the shared one whenever it changed and still holds a valid ticket.
- `health`: exit 0 only while `klist -s` accepts the cache and its ticket-granting ticket is
  valid for more than `--threshold` seconds; one line says why not.
- `config`: writes the krb5.conf the consumers read (`KRB5_CONFIG`) for one realm and KDC.
- `login`: the client side of `invoke kerberos.test-login` inside the platform: psql to a
  PostgreSQL with GSSAPI encryption required, with the cache of `KRB5CCNAME` (the shared one),
  as `--user` (default: the cache's principal without instance and realm). Prints the server's
  `current_user|principal|encrypted`, or psql's error on stderr (classified by the caller,
  dataplatform/kerberos/diagnose.py); exits with psql's code.

The kerberos-sidecar image runs this file with Debian's python3; the tests run the same file.
Standard library only (and `ccache.py` beside it). Never prints a key or a password.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

try:  # in the package (doctor, tests)
    from dataplatform.kerberos import ccache
except ImportError:  # run as a script (the image): ccache.py lies beside it, first on sys.path
    import ccache  # type: ignore[no-redef]

DEFAULT_CACHE = "/krb/ccache"
DEFAULT_CONFIG = "/krb/krb5.conf"
# what `login` asks the server: the role, the principal it authenticated and the encryption
LOGIN_QUERY = (
    "SELECT current_user, principal, encrypted FROM pg_stat_gssapi WHERE pid = pg_backend_pid()"
)
LOGIN_TIMEOUT_S = 10  # libpq's connect_timeout


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str
    principal: str | None = None
    expires: int | None = None  # epoch seconds of the TGT's end


def _path(name: str) -> Path:
    return ccache.file_path(name)


def _stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health(cache: str, threshold: float, now: float | None = None) -> Health:
    """Healthy only while klist accepts the cache and the TGT outlives `threshold` seconds."""
    try:
        path = _path(cache)
    except ccache.CacheError as exc:
        return Health(False, str(exc))
    klist = shutil.which("klist") or "klist"
    checked = subprocess.run([klist, "-s", "-c", f"FILE:{path}"], capture_output=True)
    try:
        found = ccache.read(str(path))
    except ccache.CacheError as exc:
        return Health(False, str(exc))
    expires = found.expires
    if checked.returncode != 0 or expires is None:
        return Health(
            False, f"no valid ticket in {path} (expired or empty)", found.principal, expires
        )
    left = expires - (time.time() if now is None else now)
    if left <= threshold:
        return Health(
            False,
            f"ticket for {found.principal} ends in {left:.0f} s (at "
            f"{_stamp(expires)}), not more than the {threshold:g} s threshold",
            found.principal,
            expires,
        )
    return Health(
        True,
        f"ticket for {found.principal} valid until {_stamp(expires)} ({left:.0f} s)",
        found.principal,
        expires,
    )


def _replace(source: Path, target: Path, mode: int) -> None:
    os.chmod(source, mode)
    os.replace(source, target)


def renew_once(principal: str, keytab: str, cache: str, mode: int = 0o644) -> tuple[bool, str]:
    """One `kinit -kt`; (True, expiry line) or (False, kinit's one-line reason)."""
    target = _path(cache)
    if not Path(keytab).is_file():
        return False, f"keytab {keytab} not found"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.new")
    kinit = shutil.which("kinit") or "kinit"
    done = subprocess.run(
        [kinit, "-kt", keytab, "-c", f"FILE:{temporary}", principal], capture_output=True, text=True
    )
    if done.returncode != 0:
        temporary.unlink(missing_ok=True)
        reason = (done.stderr.strip().splitlines() or ["kinit failed"])[-1]
        return False, reason
    _replace(temporary, target, mode)
    expires = ccache.read(str(target)).expires
    return True, f"ticket for {principal} valid until {_stamp(expires)}" if expires else "renewed"


def forward_once(source: str, cache: str, mode: int = 0o644) -> tuple[bool, str]:
    """Copy the host's cache when it holds a valid ticket and differs from ours."""
    src, target = _path(source), _path(cache)
    try:
        found = ccache.read(str(src))
    except ccache.CacheError as exc:
        return False, str(exc)
    if not found.expires or found.expires <= time.time():
        return False, f"the host's ticket in {src} has expired — run kinit on the host"
    data = src.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return True, "unchanged"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.new")
    temporary.write_bytes(data)
    _replace(temporary, target, mode)
    return True, f"forwarded ticket for {found.principal}, valid until {_stamp(found.expires)}"


def _remaining(cache: str) -> float:
    try:
        expires = ccache.read(str(_path(cache))).expires
    except ccache.CacheError:
        return 0.0
    return (expires - time.time()) if expires else 0.0


def loop(
    step, cache: str, renew_before: float, interval: float, stop: threading.Event, log=print
) -> None:
    """Run `step()` whenever the ticket has less than `renew_before` s left, until `stop`."""
    last = None
    while not stop.is_set():
        if _remaining(cache) < renew_before:
            ok, message = step()
            line = f"sidecar: {message}" if ok else f"sidecar: renewal failed: {message}"
            if ok or line != last:  # a failure that repeats is said once
                log(line)
            last = line
        stop.wait(interval)


def write_config(path: str, realm: str, kdc: str) -> None:
    try:
        from dataplatform.kerberos.kdc import client_config
    except ImportError:  # run as a script, kdc.py beside it
        from kdc import client_config  # type: ignore[no-redef]

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.new")
    temporary.write_text(client_config(realm, kdc))
    _replace(temporary, target, 0o644)


def conninfo(**parts: str) -> str:
    """A libpq connection string; each value quoted (a space or quote in it stays in it)."""

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{key}={quoted(str(value))}" for key, value in parts.items())


def login_command(
    host: str,
    port: int,
    dbname: str,
    krbsrvname: str,
    user: str | None,
    cache: str,
    psql: str = "psql",
) -> list[str]:
    """psql's argv for one GSSAPI-encrypted login; the role defaults to the cache's principal
    (none when the cache holds none: libpq then says there is no ticket)."""
    if not user:
        try:
            user = ccache.read(cache).primary
        except ccache.CacheError:
            user = None
    parts = {
        "host": host,
        "port": str(port),
        "dbname": dbname,
        "krbsrvname": krbsrvname,
        **({"user": user} if user else {}),
        "gssencmode": "require",
        "connect_timeout": str(LOGIN_TIMEOUT_S),
    }
    return [
        psql,
        "-X",
        "-q",
        "-t",
        "-A",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        LOGIN_QUERY,
        conninfo(**parts),
    ]


def login(host: str, port: int, dbname: str, krbsrvname: str, user: str | None) -> int:
    psql = shutil.which("psql")
    if psql is None:
        print(
            "psql is not in this image: rebuild the kerberos-sidecar image (invoke up "
            "--profile kerberos)",
            file=sys.stderr,
        )
        return 127
    cache = os.environ.get("KRB5CCNAME") or f"FILE:{DEFAULT_CACHE}"
    return subprocess.run(
        login_command(host, port, dbname, krbsrvname, user, cache, psql)
    ).returncode


def main(argv: list[str] | None = None) -> int:
    e = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("renew", "forward", "health", "config", "login"))
    parser.add_argument("--cache", default=e("KRB5_SHARED_CACHE", DEFAULT_CACHE))
    parser.add_argument("--principal", default=e("KRB5_PRINCIPAL"))
    parser.add_argument("--keytab", default=e("KRB5_KEYTAB"))
    parser.add_argument("--source", default=e("KRB5_HOST_CACHE", "/host-krb/ccache"))
    parser.add_argument("--renew-before", type=float, default=float(e("KRB5_RENEW_BEFORE", "3600")))
    parser.add_argument("--interval", type=float, default=float(e("KRB5_RENEW_INTERVAL", "30")))
    parser.add_argument("--threshold", type=float, default=float(e("KRB5_HEALTH_THRESHOLD", "300")))
    parser.add_argument(
        "--once", action="store_true", help="renew/forward once and exit (0: done, 1: failed)"
    )
    parser.add_argument(
        "--mode",
        default=e("KRB5_CACHE_MODE", "0644"),
        help="file mode of the shared cache (readers run as other users)",
    )
    parser.add_argument(
        "--config",
        default=e("KRB5_CONFIG_OUT", ""),
        help="also write a krb5.conf here (KRB5_REALM, KRB5_KDC)",
    )
    parser.add_argument("--realm", default=e("KRB5_REALM", ""))
    parser.add_argument("--kdc", default=e("KRB5_KDC", "kdc:88"))
    login_options = parser.add_argument_group("login")
    login_options.add_argument("--host", help="login: the PostgreSQL host (in-network name)")
    login_options.add_argument("--port", type=int, default=5432)
    login_options.add_argument("--dbname", default="postgres")
    login_options.add_argument("--krbsrvname", default="postgres")
    login_options.add_argument(
        "--user", help="login: the role (default: the cache's principal without instance and realm)"
    )
    args = parser.parse_args(argv)
    if args.action == "login":
        if not args.host:
            print("sidecar: login needs --host", file=sys.stderr)
            return 2
        return login(args.host, args.port, args.dbname, args.krbsrvname, args.user)
    mode = int(args.mode, 8)
    if args.action == "health":
        result = health(args.cache, args.threshold)
        print(("healthy: " if result.healthy else "unhealthy: ") + result.detail)
        return 0 if result.healthy else 1
    if args.config or args.action == "config":
        if not args.realm:
            print("sidecar: set KRB5_REALM (the realm to write krb5.conf for)", file=sys.stderr)
            return 2
        write_config(args.config or DEFAULT_CONFIG, args.realm, args.kdc)
        if args.action == "config":
            return 0
    if args.action == "renew":
        missing = [
            flag
            for flag, value in (
                ("--principal/KRB5_PRINCIPAL", args.principal),
                ("--keytab/KRB5_KEYTAB", args.keytab),
            )
            if not value
        ]
        if missing:
            print(f"sidecar: set {' and '.join(missing)}", file=sys.stderr)
            return 2

        def step() -> tuple[bool, str]:
            return renew_once(args.principal, args.keytab, args.cache, mode)
    else:

        def step() -> tuple[bool, str]:
            return forward_once(args.source, args.cache, mode)

    if args.once:
        ok, message = step()
        print(
            f"sidecar: {message}" if ok else f"sidecar: renewal failed: {message}",
            file=sys.stdout if ok else sys.stderr,
        )
        return 0 if ok else 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(
        f"sidecar: {args.action} into FILE:{_path(args.cache)} (renew when under "
        f"{args.renew_before:g} s, check every {args.interval:g} s)",
        flush=True,
    )
    loop(
        step,
        args.cache,
        args.renew_before,
        args.interval,
        stop,
        log=lambda line: print(line, flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
