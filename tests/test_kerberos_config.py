"""Kerberos in services.yaml: the kdc and kerberos-sidecar templates, the `kerberos: true` key,
and bad input (a bad principal name, a missing keytab, two realms) as one line before anything
starts. No engine needed: these are what `invoke up` reads before it contacts Docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.errors import ConfigError
from dataplatform.project import Project
from dataplatform.services import compose, desired
from dataplatform.services.manifest import load_services
from support import REPO


def manifest_for(tmp_path: Path, body: str):
    (tmp_path / "platform").mkdir(exist_ok=True)
    (tmp_path / "dodo.py").write_text("")
    if not (tmp_path / "templates").exists():
        (tmp_path / "templates").symlink_to(REPO / "templates")
    (tmp_path / "platform/services.yaml").write_text(f"namespace: t\nservices:\n{body}")
    return load_services(Project(tmp_path))


KDC = '  kdc:\n    template: "kdc:1.20"\n    environment:\n      KDC_PRINCIPALS: "{principals}"\n'
SIDECAR = '  kerberos-sidecar:\n    template: "kerberos-sidecar:1.20"\n'


def test_the_repository_platform_has_kerberos_under_its_profile() -> None:
    manifest = load_services(Project(REPO))
    kdc, sidecar = manifest.services["kdc"], manifest.services["kerberos-sidecar"]
    assert kdc.profiles == sidecar.profiles == ("kerberos",)
    assert kdc.build.context == REPO / "lib/dataplatform/kerberos"
    assert kdc.build.dockerfile == REPO / "platform/images/kdc/Dockerfile"
    assert sidecar.build.dockerfile == REPO / "platform/images/kerberos-sidecar/Dockerfile"
    assert kdc.persistent  # the realm's database survives `down`
    assert sidecar.healthcheck.test[-1] == "health"
    # the cache and the keytabs are shared volumes, declared by using Kerberos
    assert {"kerberos-cache", "kerberos-keytabs"} <= set(manifest.volumes)


def test_kerberos_true_mounts_the_cache_read_only_and_sets_the_variables(tmp_path) -> None:
    manifest = manifest_for(
        tmp_path,
        KDC.format(principals="airflow") + SIDECAR + '  app: {image: "busybox:1", kerberos: true,'
        " environment: {KRB5_CONFIG: /etc/own.conf}}\n" + '  other: {image: "busybox:1"}\n',
    )
    made = desired.desired(
        manifest.services["app"], "t", "busybox:1", "sha256:x", tmp_path, {}, manifest.volumes
    )
    assert desired.Mount("t_kerberos-cache", "/krb", True, True) in made.mounts
    assert made.environment["KRB5CCNAME"] == "FILE:/krb/ccache"
    assert made.environment["KRB5_CONFIG"] == "/etc/own.conf"  # the service's own value wins
    sidecar = desired.desired(
        manifest.services["kerberos-sidecar"], "t", "s", "sha256:y", tmp_path, {}, manifest.volumes
    )
    assert desired.Mount("t_kerberos-cache", "/krb", False, True) in sidecar.mounts
    other = desired.desired(
        manifest.services["other"], "t", "busybox:1", "sha256:x", tmp_path, {}, manifest.volumes
    )
    assert not other.mounts and "KRB5CCNAME" not in other.environment
    # `invoke compose` writes the same: the shared volume, read-only, and the variables
    (tmp_path / "alone").mkdir()
    alone = manifest_for(tmp_path / "alone", '  app: {image: "busybox:1", kerberos: true}\n')
    document = compose.compose_document(Project(tmp_path / "alone"), alone)
    app = document["services"]["app"]
    assert app["volumes"] == ["kerberos-cache:/krb:ro"]
    assert app["environment"]["KRB5CCNAME"] == "FILE:/krb/ccache"
    assert "kerberos-cache" in document["volumes"]


def test_kerberos_true_next_to_the_airflow_template_reaches_each_airflow_service(tmp_path) -> None:
    manifest = manifest_for(
        tmp_path,
        '  postgres: {template: "postgres:16"}\n'
        '  airflow: {template: "airflow:2.10", kerberos: true}\n' + SIDECAR,
    )
    airflow = [s for name, s in manifest.services.items() if name.startswith("airflow-")]
    assert airflow and all(s.kerberos for s in airflow)
    assert not manifest.services["postgres"].kerberos


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            KDC.format(principals="postgres/postgres bad!name"),
            r"^platform/services\.yaml:6: services\.kdc\.environment\.KDC_PRINCIPALS: "
            r"'bad!name' is "
            r"not a principal name .* — fix the name in the list",
        ),
        (
            KDC.format(principals="airflow@OTHER.REALM"),
            r"^platform/services\.yaml:6: .*KDC_PRINCIPALS: 'airflow@OTHER\.REALM' names realm "
            r"OTHER\.REALM, but the realm is DEV\.LOCAL",
        ),
        (
            KDC.format(principals="airflow")
            + SIDECAR
            + "    environment: {KRB5_REALM: CORP.EXAMPLE}\n",
            r"^platform/services\.yaml:9: services\.kerberos-sidecar\.environment\.KRB5_REALM: "
            r"realm "
            r"CORP\.EXAMPLE differs from the DEV\.LOCAL of service kdc — set the same KRB5_REALM",
        ),
        (
            KDC.format(principals="postgres/postgres") + SIDECAR,
            r"^platform/services\.yaml:7: "
            r"services\.kerberos-sidecar\.environment\.KRB5_KEYTAB: the kdc "
            r"exports "
            r"no keytab /keytabs/airflow\.keytab for airflow@DEV\.LOCAL .* add airflow to the "
            r"kdc's "
            r"KDC_PRINCIPALS",
        ),
        (
            SIDECAR + "    environment: {KRB5_KEYTAB: /etc/krb/svc.keytab}\n"
            "    volumes: ['./secrets:/etc/krb:ro']\n",
            r"^platform/services\.yaml:5: services\.kerberos-sidecar\.environment\.KRB5_KEYTAB: "
            r"keytab /etc/krb/svc\.keytab comes from .*/secrets/svc\.keytab, which does not exist",
        ),
    ],
)
def test_bad_kerberos_input_is_one_line_naming_file_line_and_key(tmp_path, body, expected):
    with pytest.raises(ConfigError, match=expected) as raised:
        manifest_for(tmp_path, body)
    assert "\n" not in str(raised.value)


def test_a_bad_principal_stops_invoke_up_before_anything_starts(project) -> None:
    project.services(KDC.format(principals="ok bad/na/me") + "    profiles: [kerberos]\n")
    result = project.invoke("up", "--profile", "kerberos")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'bad/na/me' is not a principal name" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
