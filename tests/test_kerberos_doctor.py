"""`invoke doctor`'s Kerberos checks against a real realm (Debian's krb5kdc on a loopback
port): krb5.conf and its realm, the ticket and its expiry, a cache type containers can mount,
the KDC reachable."""

from __future__ import annotations

import json

import pytest

from dataplatform.kerberos import diagnose
from kerberos_helpers import running_kdc, sidecar

REALM = "DOCTOR.LOCAL"
USER = "alice"


@pytest.fixture(scope="module")
def kdc():
    with running_kdc(REALM, [USER]) as made:
        yield made


def test_krb5_conf_and_its_realm(kdc, tmp_path):
    env = kdc.env()
    found = diagnose.krb5_conf(env)
    assert (found.status, found.observed) == (
        diagnose.OK,
        f"{kdc.krb5_conf} (KRB5_CONFIG): realm {REALM}",
    )
    other = diagnose.krb5_conf(env, realm="DEV.LOCAL")
    assert other.status == diagnose.WARN and "services.yaml uses realm DEV.LOCAL" in other.observed
    missing = diagnose.krb5_conf({"KRB5_CONFIG": str(tmp_path / "absent.conf")})
    assert missing.status == diagnose.FAIL and missing.observed.endswith("not found")
    assert "krb5-user" in missing.fix


def test_a_ticket_and_its_expiry(kdc, tmp_path):
    cache = tmp_path / "ccache"
    env = kdc.env(cache)
    none = diagnose.ticket(env)
    assert none.status == diagnose.WARN and none.observed.startswith("no ticket")
    assert none.fix == f"kinit YOUR_USER@{REALM}"
    made = sidecar(
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
    assert made.returncode == 0, made.stderr
    found = diagnose.ticket(env)
    assert found.status == diagnose.OK
    assert found.observed.startswith(f"{USER}@{REALM}, valid until ")
    later = diagnose.ticket(env, now=found_expiry(cache) + 1)
    assert later.status == diagnose.WARN and "expired" in later.observed
    assert later.fix == f"kinit {USER}@{REALM}"


def found_expiry(cache) -> int:
    from dataplatform.kerberos import ccache

    return ccache.read(str(cache)).expires


@pytest.mark.parametrize("name", ["KEYRING:persistent:0", "KCM:", "API:x"])
def test_a_cache_containers_cannot_mount_is_named_with_the_fix(kdc, tmp_path, name):
    wsl = tmp_path / "version"
    wsl.write_text("Linux version 5.15.153.1-microsoft-standard-WSL2")
    found = diagnose.cache_type({**kdc.env(), "KRB5CCNAME": name}, proc_version=wsl)
    assert found.status == diagnose.FAIL
    assert (
        found.observed == f"{name}: a {name.split(':')[0]}: cache (WSL2's default), which "
        "no container can read"
    )
    assert "KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u)" in found.fix
    assert diagnose.cache_type(kdc.env(tmp_path / "cc")).status == diagnose.OK


def test_the_default_cache_name_follows_krb5_conf(kdc, tmp_path):
    conf = tmp_path / "krb5.conf"
    conf.write_text(
        kdc.krb5_conf.read_text().replace(
            "[libdefaults]\n", "[libdefaults]\n default_ccache_name = KEYRING:persistent:%{uid}\n"
        )
    )
    found = diagnose.cache_type({"KRB5_CONFIG": str(conf)})
    assert found.status == diagnose.FAIL and found.observed.startswith("KEYRING:persistent:")


def test_the_kdc_reachable_and_not(tmp_path):
    with running_kdc("GONE.LOCAL", [USER]) as kdc:
        up = diagnose.kdc_reachable(kdc.env())
        assert up == diagnose.Finding(
            "kdc", diagnose.OK, f"GONE.LOCAL: 127.0.0.1:{kdc.port} answers"
        )
        kdc.stop()
        down = diagnose.kdc_reachable(kdc.env(), timeout=1)
    assert down.status == diagnose.FAIL
    assert down.observed.startswith(f"GONE.LOCAL: no KDC answers: 127.0.0.1:{kdc.port} (")
    assert "invoke up --profile kerberos" in down.fix


def test_invoke_doctor_checks_kerberos_only_when_the_platform_uses_it(kdc, project, tmp_path):
    env = {"KRB5_CONFIG": str(kdc.krb5_conf), "KRB5CCNAME": f"FILE:{tmp_path}/none"}
    project.services('  app: {image: "busybox:1"}\n')
    plain = json.loads(project.invoke("doctor", "--json", **env).stdout)
    assert not {"krb5.conf", "kdc"} & {c["name"] for c in plain["checks"]}

    project.services('  app: {image: "busybox:1", kerberos: true}\n')
    result = project.invoke("doctor", "--json", **env)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["krb5.conf"]["status"] == "ok" and REALM in checks["krb5.conf"]["observed"]
    assert checks["kerberos-ticket"]["status"] == "warn"
    assert checks["kerberos-cache"]["status"] == "ok"
    assert checks["kdc"]["status"] == "ok"
