"""What is wrong with Kerberos on this workstation, in one line each: the krb5.conf in use and
its realm, the ticket and its expiry, whether the cache is a `FILE:` one containers can mount,
whether the realm's KDC answers (`invoke doctor`), and why a GSSAPI login fails
(`invoke kerberos.test-login`): no ticket, clock skew, a wrong service principal, an
unreachable KDC, or a server that does not accept the principal.

Every function takes the environment it reads (`env`), so the tests aim it at a real test realm.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dataplatform.kerberos import ccache

OK, WARN, FAIL = "ok", "warn", "fail"
DEFAULT_CONFIG = "/etc/krb5.conf"
FILE_CACHE_FIX = (
    "containers can mount only a FILE: cache — export "
    "KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u) (or set default_ccache_name = "
    "FILE:/tmp/krb5cc_%{uid} under [libdefaults] in krb5.conf) and run kinit again"
)


@dataclass(frozen=True)
class Finding:
    name: str
    status: str  # ok | warn | fail
    observed: str
    fix: str = ""


@dataclass(frozen=True)
class Krb5Conf:
    path: Path
    default_realm: str | None
    kdcs: dict[str, list[str]]  # realm → ["host[:port]", ...]
    default_ccache_name: str | None


def parse_krb5_conf(text: str, path: Path) -> Krb5Conf:
    """The few settings diagnosis needs from a krb5.conf (profile syntax: sections, relations,
    `REALM = { ... }` subsections)."""
    section, realm = "", None
    found: dict[str, str] = {}
    kdcs: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if header := re.match(r"^\[(\w+)\]$", line):
            section, realm = header.group(1), None
            continue
        if line.startswith("}"):
            realm = None
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        if value == "{":
            realm = key if section == "realms" else None
            continue
        if section == "libdefaults" and key in ("default_realm", "default_ccache_name"):
            found[key] = value
        elif section == "realms" and realm and key == "kdc":
            kdcs.setdefault(realm, []).append(value)
    return Krb5Conf(path, found.get("default_realm"), kdcs, found.get("default_ccache_name"))


def config_path(env: Mapping[str, str]) -> Path:
    """The first file of KRB5_CONFIG (a colon-separated list), else /etc/krb5.conf."""
    listed = [p for p in env.get("KRB5_CONFIG", "").split(":") if p]
    return Path(listed[0]) if listed else Path(DEFAULT_CONFIG)


def load_config(env: Mapping[str, str]) -> Krb5Conf | None:
    path = config_path(env)
    try:
        return parse_krb5_conf(path.read_text(), path)
    except OSError:
        return None


def krb5_conf(env: Mapping[str, str], realm: str | None = None) -> Finding:
    """krb5.conf found, and its default realm (and that it lists a KDC for it)."""
    path = config_path(env)
    config = load_config(env)
    via = " (KRB5_CONFIG)" if env.get("KRB5_CONFIG") else ""
    if config is None:
        return Finding(
            "krb5.conf",
            FAIL,
            f"{path}{via} not found",
            "install krb5-user (apt-get install krb5-user) and set default_realm "
            "and the realm's kdc in /etc/krb5.conf, or point KRB5_CONFIG at one",
        )
    if not config.default_realm:
        return Finding(
            "krb5.conf",
            FAIL,
            f"{path}{via} sets no default_realm",
            f"add default_realm = YOUR.REALM under [libdefaults] in {path}",
        )
    observed = f"{path}{via}: realm {config.default_realm}"
    if config.default_realm not in config.kdcs:
        return Finding(
            "krb5.conf",
            WARN,
            observed + ", no kdc listed for it (DNS lookup)",
            f"add [realms] {config.default_realm} = {{ kdc = HOST }} to {path}",
        )
    if realm and realm != config.default_realm:
        return Finding(
            "krb5.conf",
            WARN,
            observed + f", services.yaml uses realm {realm}",
            "set KRB5_REALM in .env to the realm you log in to, or use the "
            "platform's own kdc service",
        )
    return Finding("krb5.conf", OK, observed)


def cache_name(env: Mapping[str, str], config: Krb5Conf | None = None) -> str:
    """The cache kinit and klist use: KRB5CCNAME, else krb5.conf's default_ccache_name, else
    MIT's default FILE:/tmp/krb5cc_UID."""
    name = (
        env.get("KRB5CCNAME")
        or (config.default_ccache_name if config else None)
        or "FILE:/tmp/krb5cc_%{uid}"
    )
    name = name.replace("%{uid}", str(os.getuid())).replace("%{USERID}", str(os.getuid()))
    return name if ":" in name.split("/", 1)[0] else f"FILE:{name}"


def _wsl(proc_version: Path = Path("/proc/version")) -> bool:
    try:
        return "microsoft" in proc_version.read_text().lower()
    except OSError:
        return False


def cache_type(env: Mapping[str, str], proc_version: Path = Path("/proc/version")) -> Finding:
    """A FILE: cache can be mounted into containers; KEYRING:, KCM: and API: ones cannot."""
    name = cache_name(env, load_config(env))
    kind = name.split(":", 1)[0].upper()
    if kind in ("FILE", "DIR"):
        return Finding("kerberos-cache", OK, f"{name} (a file containers can mount)")
    where = "WSL2's default" if _wsl(proc_version) else "this workstation's default"
    return Finding(
        "kerberos-cache",
        FAIL,
        f"{name}: a {kind}: cache ({where}), which no container can read",
        FILE_CACHE_FIX,
    )


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def ticket(env: Mapping[str, str], now: float | None = None) -> Finding:
    """A ticket in the cache, its principal and expiry."""
    config = load_config(env)
    name = cache_name(env, config)
    now = time.time() if now is None else now
    kind = name.split(":", 1)[0].upper()
    if kind not in ("FILE",):
        valid = (
            subprocess.run(
                ["klist", "-s", "-c", name], env=dict(env), capture_output=True
            ).returncode
            == 0
        )
        return Finding(
            "kerberos-ticket",
            OK if valid else WARN,
            f"{'a valid' if valid else 'no valid'} ticket in {name} (expiry "
            "readable only from FILE: caches)",
            "" if valid else "kinit",
        )
    try:
        found = ccache.read(name)
    except ccache.CacheError as exc:
        realm = f"@{config.default_realm}" if config and config.default_realm else ""
        return Finding("kerberos-ticket", WARN, f"no ticket: {exc}", f"kinit YOUR_USER{realm}")
    if not found.expires or found.expires <= now:
        when = f"expired {_stamp(found.expires)}" if found.expires else "holds no ticket"
        return Finding(
            "kerberos-ticket",
            WARN,
            f"{found.principal}: {when} ({name})",
            f"kinit {found.principal}",
        )
    left = found.expires - now
    return Finding(
        "kerberos-ticket",
        OK,
        f"{found.principal}, valid until {_stamp(found.expires)} ({left / 3600:.1f} h left)",
    )


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    return (host, int(port)) if port.isdigit() else (text, 88)


def kdc_reachable(env: Mapping[str, str], timeout: float = 3.0) -> Finding:
    """The default realm's KDCs (from krb5.conf) accept a TCP connection."""
    config = load_config(env)
    if config is None or not config.default_realm:
        return Finding("kdc", WARN, "no realm configured (see krb5.conf)", "fix krb5.conf first")
    listed = config.kdcs.get(config.default_realm, [])
    if not listed:
        return Finding(
            "kdc",
            WARN,
            f"krb5.conf lists no kdc for {config.default_realm}",
            f"add kdc = HOST under [realms] {config.default_realm} in {config.path}",
        )
    problems = []
    for entry in listed:
        host, port = _address(entry)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return Finding("kdc", OK, f"{config.default_realm}: {host}:{port} answers")
        except OSError as exc:
            problems.append(f"{host}:{port} ({exc.strerror or exc})")
    return Finding(
        "kdc",
        FAIL,
        f"{config.default_realm}: no KDC answers: {', '.join(problems)}",
        "connect to the network/VPN that reaches it, or start the platform's kdc "
        "(invoke up --profile kerberos)",
    )


def doctor(env: Mapping[str, str] | None = None, realm: str | None = None) -> list[Finding]:
    env = os.environ if env is None else env
    return [krb5_conf(env, realm), ticket(env), cache_type(env), kdc_reachable(env)]


# --- why a GSSAPI login fails --------------------------------------------------------------------

# (pattern in libpq's/krb5's message, cause, fix) — first match wins
CAUSES: tuple[tuple[str, str, str], ...] = (
    (
        r"no credential cache|No Kerberos credentials available|No credentials cache found|"
        r"Ticket expired|credentials have expired",
        "no ticket",
        "run kinit (or check the kerberos-sidecar: invoke status)",
    ),
    (
        r"Clock skew too great",
        "clock skew",
        "the clocks differ by more than 5 minutes: sync this machine's clock "
        "(WSL2: wsl --shutdown, or sudo hwclock -s) and kinit again",
    ),
    (
        r"Server (\S+) not found in Kerberos database",
        "wrong SPN",
        "the server's service principal is not {0}: connect with the host name "
        "its keytab was made for, or set krbsrvname",
    ),
    (
        r"Cannot contact any KDC|Cannot find KDC|Cannot resolve network address for KDC",
        "KDC unreachable",
        "reach the KDC (network/VPN, or invoke up --profile kerberos) and "
        "check the realm's kdc in krb5.conf",
    ),
    (
        r"GSSAPI authentication failed for user \"?([^\"\s]+)|role \"([^\"]+)\" does not exist",
        "principal not accepted",
        "the server has no login role for this principal "
        "(CREATE ROLE … LOGIN) or its pg_hba.conf does not map it",
    ),
    (
        r"no pg_hba\.conf entry",
        "GSSAPI not accepted",
        "the server's pg_hba.conf needs a hostgssenc … gss line for this host and user",
    ),
    (
        r"GSSAPI encryption required but was impossible|server does not support GSSAPI",
        "server without GSSAPI",
        "the server is not built with or configured for GSSAPI (krb_server_keyfile)",
    ),
)


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    line: str  # one line: what happened
    cause: str = ""  # no ticket | clock skew | wrong SPN | KDC unreachable | ...
    role: str = ""  # the database role the server logged in (when it did and said)


def logged_in(principal: str | None, encrypted: bool, role: str = "") -> LoginResult:
    return LoginResult(
        True,
        f"logged in as {principal} with GSSAPI" + (", encrypted" if encrypted else ""),
        role=role,
    )


def explain(message: str) -> tuple[str, str]:
    """(cause, one-line explanation) of a failed GSSAPI login's error text."""
    flat = " ".join(message.split())
    for pattern, cause, fix in CAUSES:
        if match := re.search(pattern, flat):
            groups = [g for g in match.groups() if g]
            return cause, f"{cause}: {fix.format(*groups) if groups else fix}"
    detail = flat.split("failed:", 1)[-1].strip()
    return "other", f"login failed: {detail}"


def test_login(conninfo: str, env: Mapping[str, str] | None = None) -> LoginResult:
    """Log in with GSSAPI required (encrypted); say who the server saw, or why it failed."""
    import psycopg

    saved = {key: os.environ.get(key) for key in ("KRB5CCNAME", "KRB5_CONFIG")}
    try:
        if env is not None:  # libpq's krb5 reads these from the process environment
            for key in saved:
                if env.get(key):
                    os.environ[key] = env[key]
                else:
                    os.environ.pop(key, None)
        with psycopg.connect(f"{conninfo} gssencmode=require", connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT principal, encrypted FROM pg_stat_gssapi WHERE pid = pg_backend_pid()"
            ).fetchone()
    except psycopg.OperationalError as exc:
        cause, line = explain(str(exc))
        return LoginResult(False, line, cause)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    principal, encrypted = row if row else (None, False)
    return logged_in(principal, bool(encrypted))


def psql_result(stdout: str, stderr: str) -> LoginResult:
    """The outcome of `sidecar.py login` (psql in a client container inside the platform): its
    `role|principal|t` row, else its error text explained in one line."""
    rows = [line.split("|") for line in stdout.splitlines() if line.count("|") == 2]
    if rows:
        role, principal, encrypted = rows[-1]
        return logged_in(principal or None, encrypted == "t", role)
    message = stderr.strip() or stdout.strip() or "the client exited without a word"
    cause, line = explain(message)
    return LoginResult(False, line, cause)
