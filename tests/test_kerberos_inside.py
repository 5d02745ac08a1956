"""`invoke kerberos.test-login` from inside the platform, without an engine: which client
container it asks for (dataplatform.kerberos.inside.client_spec), where the login runs by
default, how psql's answer becomes one line, and the bad `--from` inputs. The real run on the
engine is in tests/test_kerberos_platform.py; the client's script against a real KDC and a
GSSAPI-only PostgreSQL is in tests/test_kerberos_login.py."""

from __future__ import annotations

import pytest

from dataplatform.errors import UserError
from dataplatform.kerberos import config, diagnose, inside, sidecar
from support import one_error_line

SPEC_NS = "acme"


def test_the_client_container_joins_the_stack_with_the_sidecars_cache_read_only():
    target = inside.Target("warehouse-db", "warehouse-db", 5433, "analytics", "postgres")
    spec = inside.client_spec(SPEC_NS, "sha256:abc", target, suffix="x1")
    assert inside.client_spec(SPEC_NS, "i", target, "company-krb").volume == "company-krb"
    assert spec.name == "acme-kerberos-test-login-x1"
    assert spec.image == "sha256:abc"
    assert spec.network == "acme_default"  # the network `up` puts every service on
    assert spec.volume == "acme_kerberos-cache"  # the volume the sidecar writes
    assert spec.environment == {"KRB5CCNAME": "FILE:/krb/ccache", "KRB5_CONFIG": "/krb/krb5.conf"}
    assert spec.environment == dict(config.consumer_environment())
    assert spec.labels == {"dataplatform.project": "acme"}
    assert spec.command == (
        "python3",
        "/opt/kerberos/sidecar.py",
        "login",
        "--host",
        "warehouse-db",
        "--port",
        "5433",
        "--dbname",
        "analytics",
        "--krbsrvname",
        "postgres",
    )
    assert target.spn == "postgres/warehouse-db"


def test_a_given_role_is_passed_and_each_client_has_its_own_name():
    target = inside.Target("pg", "pg", 5432, user="alice")
    first, second = (inside.client_spec(SPEC_NS, "img", target) for _ in range(2))
    assert first.command[-2:] == ("--user", "alice")
    assert first.name != second.name and first.name.startswith("acme-kerberos-test-login-")


def test_the_login_script_is_psql_with_gssapi_encryption_required(tmp_path):
    argv = sidecar.login_command(
        "pg", 5432, "my db", "postgres", "o'brien", f"FILE:{tmp_path}/none", psql="/usr/bin/psql"
    )
    assert argv[:-1] == [
        "/usr/bin/psql",
        "-X",
        "-q",
        "-t",
        "-A",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sidecar.LOGIN_QUERY,
    ]
    assert argv[-1] == (
        "host='pg' port='5432' dbname='my db' krbsrvname='postgres' "
        "user='o\\'brien' gssencmode='require' connect_timeout='10'"
    )


def test_without_a_ticket_the_script_leaves_the_role_to_libpq(tmp_path):
    argv = sidecar.login_command("pg", 5432, "postgres", "postgres", None, f"FILE:{tmp_path}/none")
    assert "user=" not in argv[-1] and "gssencmode='require'" in argv[-1]


@pytest.mark.parametrize(
    ("requested", "sidecar_running", "chosen"),
    [
        (None, True, "platform"),
        (None, False, "host"),
        ("host", True, "host"),
        ("platform", False, "platform"),
    ],
)
def test_where_the_login_runs(requested, sidecar_running, chosen):
    assert inside.choose(requested, sidecar_running) == chosen


def test_an_unknown_place_is_refused():
    with pytest.raises(
        UserError,
        match=r"--from 'pod' is not a place to log in from — use "
        r"--from platform .* or --from host",
    ):
        inside.choose("pod", True)


def test_psqls_row_is_the_principal_and_the_encryption():
    result = diagnose.psql_result("airflow|airflow@DEV.LOCAL|t\n", "")
    assert result.ok and result.role == "airflow"
    assert result.line == "logged in as airflow@DEV.LOCAL with GSSAPI, encrypted"
    assert diagnose.psql_result("a|a@R|f\n", "").line == "logged in as a@R with GSSAPI"


def test_psqls_error_is_one_line_from_the_shared_diagnosis():
    stderr = (
        'psql: error: connection to server at "pg" (172.18.0.3), port 5432 failed: '
        "GSSAPI encryption required but was impossible (possibly no credential cache, "
        "no server support, or using a local socket)\n"
    )
    result = diagnose.psql_result("", stderr)
    assert not result.ok and result.cause == "no ticket"
    assert result.line == diagnose.explain(stderr)[1]
    silent = diagnose.psql_result("", "")
    assert not silent.ok and silent.line == "login failed: the client exited without a word"


# --- the command's bad input: one line, exit 1, no engine contacted --------------------------


def test_a_bad_from_isone_error_line(project):
    project.services('  pg:\n    image: "postgres:15"\n')
    line = one_error_line(project.invoke("kerberos.test-login", "pg", "--from", "pod"))
    assert line.startswith("✗ --from 'pod' is not a place to log in from")


def test_from_platform_without_a_sidecar_says_so(project):
    project.services('  pg:\n    image: "postgres:15"\n')
    line = one_error_line(project.invoke("kerberos.test-login", "pg", "--from", "platform"))
    assert "has no kerberos-sidecar service" in line and "--from host" in line


KERBEROS_STACK = """\
  kdc:
    template: "kdc:1.20"
    environment:
      KDC_PRINCIPALS: "airflow postgres/pg"
  kerberos-sidecar:
    template: "kerberos-sidecar:1.20"
  pg:
    image: "postgres:15"
"""


def test_with_no_engine_the_default_is_this_workstation(project, tmp_path):
    """A sidecar is declared but no engine answers (DOCKER_HOST at a socket nobody serves): the
    platform cannot be running, so the login is tried from the host — here it stops at pg
    publishing no port, and the line says how to log in from inside instead."""
    project.services(KERBEROS_STACK)
    line = one_error_line(
        project.invoke("kerberos.test-login", "pg", DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    )
    assert line == (
        "✗ service 'pg' publishes no port (platform/services.yaml:9) — give "
        "--port, or log in from inside the platform (--from platform)"
    )


def test_from_platform_with_no_engine_is_the_engines_line(project, tmp_path):
    project.services(KERBEROS_STACK)
    line = one_error_line(
        project.invoke(
            "kerberos.test-login",
            "pg",
            "--from",
            "platform",
            DOCKER_HOST=f"unix://{tmp_path}/none.sock",
        )
    )
    assert line.startswith("✗ Docker engine not reachable: ")
