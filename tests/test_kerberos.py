"""Kerberos without Docker: a real KDC (Debian's krb5kdc, made by the kdc image's own script),
the kerberos-sidecar's own script renewing into a FILE: cache, and a real PostgreSQL 15 that
accepts only GSSAPI-encrypted logins."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.kerberos import ccache
from kerberos_helpers import (
    PG_SPN,
    gss_postgres,
    running_kdc,
    sidecar,
    start_sidecar,
    wait_until,
)

REALM = "TEST.LOCAL"
USER = "alice"


@pytest.fixture(scope="module")
def kdc():
    with running_kdc(REALM, [USER, PG_SPN]) as made:
        yield made


@pytest.fixture(scope="module")
def gss_pg(kdc):
    with gss_postgres(kdc.keytab(PG_SPN), [USER]) as server:
        yield server


def _stat_gssapi(dsn: str, env: dict[str, str], monkeypatch) -> tuple:
    import psycopg

    for key in ("KRB5_CONFIG", "KRB5CCNAME"):
        monkeypatch.setenv(key, env[key])
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT gss_authenticated, principal, encrypted FROM pg_stat_gssapi "
            "WHERE pid = pg_backend_pid()"
        ).fetchone()


@pytest.mark.postgres
def test_login_without_a_ticket_is_refused(kdc, gss_pg, monkeypatch):
    import psycopg

    with pytest.raises(
        psycopg.OperationalError, match="GSSAPI encryption required but no credential cache"
    ):
        _stat_gssapi(gss_pg.dsn(USER), kdc.env(), monkeypatch)


@pytest.mark.postgres
def test_login_with_the_sidecars_cache_is_gssapi_authenticated_and_encrypted(
    kdc, gss_pg, tmp_path, monkeypatch
):
    cache = tmp_path / "krb" / "ccache"
    env = kdc.env(cache)
    done = sidecar(
        "renew",
        "--once",
        "--principal",
        USER,
        "--keytab",
        str(kdc.keytab(USER)),
        "--cache",
        str(cache),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert f"ticket for {USER} valid until" in done.stdout
    assert oct(cache.stat().st_mode & 0o777) == "0o644"  # readers in other containers
    assert _stat_gssapi(gss_pg.dsn(USER), env, monkeypatch) == (True, f"{USER}@{REALM}", True)


def test_a_missing_keytab_is_one_line_and_writes_no_cache(kdc, tmp_path):
    cache = tmp_path / "ccache"
    done = sidecar(
        "renew",
        "--once",
        "--principal",
        USER,
        "--keytab",
        str(tmp_path / "absent.keytab"),
        "--cache",
        str(cache),
        env=kdc.env(cache),
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip() == f"sidecar: renewal failed: keytab {tmp_path}/absent.keytab not found"
    )
    assert not cache.exists()


@pytest.fixture
def short_lived_kdc():
    """Tickets live one minute (the realm's and the principal's max_life)."""
    with running_kdc("SHORT.LOCAL", [USER], max_life="1m") as made:
        yield made


def _expiry(cache: Path) -> int | None:
    try:
        return ccache.read(str(cache)).expires
    except ccache.CacheError:
        return None


def _health(kdc, cache: Path) -> bool:
    done = sidecar("health", "--cache", str(cache), "--threshold", "50", env=kdc.env(cache))
    return done.returncode == 0


def test_the_sidecar_renews_a_one_minute_ticket_and_its_health_follows_the_kdc(
    short_lived_kdc, tmp_path
):
    kdc = short_lived_kdc
    cache = tmp_path / "ccache"
    # renew when under 57 s of a 60 s ticket, healthy while over 50 s: without a KDC the
    # ticket falls under the threshold within seconds
    process = start_sidecar(
        "--principal",
        USER,
        "--keytab",
        str(kdc.keytab(USER)),
        "--cache",
        str(cache),
        "--renew-before",
        "57",
        "--interval",
        "0.5",
        env=kdc.env(cache),
    )
    try:
        first = wait_until(lambda: _expiry(cache), "the first ticket")
        start, end = next((c.start, c.end) for c in ccache.read(str(cache)).credentials)
        assert end - start == 60  # the realm's one-minute lifetime
        later = wait_until(lambda: (e := _expiry(cache)) and e > first and e, "a renewal")
        assert later > first
        wait_until(lambda: _health(kdc, cache), "healthy")

        kdc.stop()
        wait_until(lambda: not _health(kdc, cache), "unhealthy without the KDC")
        unhealthy = sidecar(
            "health", "--cache", str(cache), "--threshold", "50", env=kdc.env(cache)
        )
        assert "not more than the 50 s threshold" in unhealthy.stdout

        kdc.start()
        wait_until(lambda: _health(kdc, cache), "healthy again with the KDC back")
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert process.returncode == 0
    assert "renewal failed: kinit: Cannot contact any KDC for realm 'SHORT.LOCAL'" in output
    assert output.count("renewal failed") == 1  # said once, not every half second


@pytest.mark.postgres
def test_forward_copies_the_hosts_valid_ticket_and_refuses_an_expired_one(
    kdc, gss_pg, tmp_path, monkeypatch
):
    """WSL2: kinit on the host into a FILE: cache; the sidecar forwards it to the shared one."""
    import subprocess

    host_cache, shared = tmp_path / "host" / "krb5cc", tmp_path / "krb" / "ccache"
    host_cache.parent.mkdir()
    env = kdc.env(shared)
    subprocess.run(
        ["kinit", "-kt", str(kdc.keytab(USER)), "-c", f"FILE:{host_cache}", USER],
        env=env,
        check=True,
    )
    done = sidecar(
        "forward", "--once", "--source", str(host_cache), "--cache", str(shared), env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"sidecar: forwarded ticket for {USER}@{REALM}, valid until")
    assert shared.read_bytes() == host_cache.read_bytes()
    again = sidecar(
        "forward", "--once", "--source", str(host_cache), "--cache", str(shared), env=env
    )
    assert again.stdout.strip() == "sidecar: unchanged"
    assert _stat_gssapi(gss_pg.dsn(USER), env, monkeypatch) == (True, f"{USER}@{REALM}", True)

    subprocess.run(["kdestroy", "-c", f"FILE:{host_cache}"], env=env, check=True)
    gone = sidecar(
        "forward", "--once", "--source", str(host_cache), "--cache", str(shared), env=env
    )
    assert gone.returncode == 1
    assert gone.stderr.strip() == f"sidecar: renewal failed: no ticket cache at {host_cache}"


def test_no_key_reaches_output_or_the_written_configs(tmp_path):
    """The realm's script prints what it made, never a key; krb5.conf and kdc.conf hold none."""
    import subprocess

    from kerberos_helpers import Kdc

    kdc = Kdc(tmp_path, "KEYS.LOCAL", [USER, PG_SPN])
    made = subprocess.run(kdc.args("init"), capture_output=True, text=True, env=kdc.env())
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        f"kdc: created realm KEYS.LOCAL in {tmp_path}/realm",
        f"kdc: created principal {USER}@KEYS.LOCAL",
        f"kdc: exported keytab {kdc.keytab(USER)} for {USER}@KEYS.LOCAL",
        f"kdc: created principal {PG_SPN}@KEYS.LOCAL",
        f"kdc: exported keytab {kdc.keytab(PG_SPN)} for {PG_SPN}@KEYS.LOCAL",
    ]
    assert oct(kdc.keytab(USER).stat().st_mode & 0o777) == "0o600"
    listed = subprocess.run(
        ["klist", "-k", "-K", str(kdc.keytab(USER))], capture_output=True, text=True, check=True
    ).stdout
    keys = [line.split("(0x")[1].rstrip(")") for line in listed.splitlines() if "(0x" in line]
    assert keys
    written = (
        made.stdout
        + made.stderr
        + "".join((tmp_path / "realm" / name).read_text() for name in ("krb5.conf", "kdc.conf"))
    )
    assert not any(key in written for key in keys)
    again = subprocess.run(kdc.args("init"), capture_output=True, text=True, env=kdc.env())
    assert (again.returncode, again.stdout) == (0, "")  # a second start changes nothing
