"""`invoke kerberos.test-login SERVICE` against a real KDC and a PostgreSQL 15 that accepts
only GSSAPI-encrypted logins: success names the principal; each failure is one line with its
cause — no ticket, clock skew, wrong SPN, KDC unreachable, a principal without a role."""

from __future__ import annotations

import shutil

import pytest

from dataplatform.kerberos import diagnose
from kerberos_helpers import PG_SPN, gss_postgres, running_kdc, sidecar, with_time_offset
from support import free_port, one_error_line, require

pytestmark = pytest.mark.postgres
REALM = "LOGIN.LOCAL"
USER = "alice"
NO_ROLE = "bob"


@pytest.fixture(scope="module")
def kdc():
    with running_kdc(REALM, [USER, NO_ROLE, PG_SPN]) as made:
        yield made


@pytest.fixture(scope="module")
def gss_pg(kdc):
    with gss_postgres(kdc.keytab(PG_SPN), [USER]) as server:
        yield server


@pytest.fixture
def platform(project, gss_pg):
    project.services('  postgres:\n    image: "postgres:15"\n    ports: ["${GSS_PG_PORT}:5432"]\n')
    project.env["GSS_PG_PORT"] = str(gss_pg.port)
    return project


def _ticket(kdc, cache, principal=USER):
    done = sidecar(
        "renew",
        "--once",
        "--principal",
        principal,
        "--keytab",
        str(kdc.keytab(principal)),
        "--cache",
        str(cache),
        env=kdc.env(cache),
    )
    assert done.returncode == 0, done.stderr
    return cache


def _login(platform, kdc, cache, *args, config=None):
    return platform.invoke(
        "kerberos.test-login",
        "postgres",
        *args,
        KRB5_CONFIG=str(config or kdc.krb5_conf),
        KRB5CCNAME=f"FILE:{cache}",
    )


def test_with_the_sidecars_ticket_the_login_names_the_principal(platform, kdc, gss_pg, tmp_path):
    result = _login(platform, kdc, _ticket(kdc, tmp_path / "cc"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"✓ postgres (localhost:{gss_pg.port}, role {USER}, "
        f"principal postgres/localhost): logged in as "
        f"{USER}@{REALM} with GSSAPI, encrypted"
    )


def test_no_ticket(platform, kdc, tmp_path):
    line = one_error_line(_login(platform, kdc, tmp_path / "absent", "--user", USER))
    assert line.startswith("✗ postgres (") and ": no ticket: run kinit" in line


def test_clock_skew(platform, kdc, tmp_path):
    skewed = tmp_path / "skewed"
    with_time_offset(_ticket(kdc, tmp_path / "cc"), skewed, -900)
    line = one_error_line(_login(platform, kdc, skewed))
    assert ": clock skew: the clocks differ by more than 5 minutes" in line


def test_wrong_spn(platform, kdc, tmp_path):
    line = one_error_line(
        _login(platform, kdc, _ticket(kdc, tmp_path / "cc"), "--krbsrvname", "HTTP")
    )
    assert f": wrong SPN: the server's service principal is not HTTP/localhost@{REALM}" in line


def test_kdc_unreachable(platform, kdc, tmp_path):
    elsewhere = tmp_path / "krb5.conf"  # the realm's KDC listed at a port nothing listens on
    elsewhere.write_text(kdc.krb5_conf.read_text().replace(f":{kdc.port}", f":{free_port()}"))
    line = one_error_line(_login(platform, kdc, _ticket(kdc, tmp_path / "cc"), config=elsewhere))
    assert ": KDC unreachable: reach the KDC" in line


def test_a_principal_without_a_role(platform, kdc, tmp_path):
    line = one_error_line(_login(platform, kdc, _ticket(kdc, tmp_path / "cc", NO_ROLE)))
    assert ": principal not accepted: the server has no login role" in line


def test_an_unknown_service_isone_error_line(platform, kdc, tmp_path):
    result = platform.invoke("kerberos.test-login", "postgress")
    assert one_error_line(result).endswith("did you mean 'postgres'?")


# --- the script the in-platform client container runs (`sidecar.py login`, psql) -------------


def _client_login(kdc, cache, gss_pg, *args):
    """`sidecar.py login` as the client container runs it, here with the host's psql (Debian's,
    the same package the kerberos-sidecar image installs), classified as the command does."""
    require(
        shutil.which("psql") is not None,
        "psql is not installed (apt-get install postgresql-client)",
    )
    done = sidecar(
        "login", "--host", "localhost", "--port", str(gss_pg.port), *args, env=kdc.env(cache)
    )
    return done, diagnose.psql_result(done.stdout, done.stderr)


def test_the_platform_clients_script_logs_in_as_the_caches_principal(kdc, gss_pg, tmp_path):
    done, result = _client_login(kdc, _ticket(kdc, tmp_path / "cc"), gss_pg)
    assert done.returncode == 0, done.stderr
    assert result.ok and result.role == USER
    assert result.line == f"logged in as {USER}@{REALM} with GSSAPI, encrypted"


def test_the_platform_clients_script_without_a_ticket(kdc, gss_pg, tmp_path):
    done, result = _client_login(kdc, tmp_path / "absent", gss_pg)
    assert done.returncode != 0 and not result.ok
    assert result.cause == "no ticket" and result.line.startswith("no ticket: run kinit")


def test_the_platform_clients_script_with_a_wrong_spn(kdc, gss_pg, tmp_path):
    _, result = _client_login(kdc, _ticket(kdc, tmp_path / "cc"), gss_pg, "--krbsrvname", "HTTP")
    assert not result.ok and result.cause == "wrong SPN"
    assert f"is not HTTP/localhost@{REALM}" in result.line
