"""The shipped service templates expand into complete, valid services (their images cannot be
pulled here, so they are checked as the manifest and compose.yaml see them)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jinja2
import pytest
import yaml

from dataplatform.errors import ConfigError, UserError
from dataplatform.project import Project
from dataplatform.services import compose
from dataplatform.services.manifest import load_services
from support import REPO


def manifest_for(tmp_path: Path, body: str):
    (tmp_path / "platform").mkdir(exist_ok=True)
    (tmp_path / "dodo.py").write_text("")
    (tmp_path / "templates").symlink_to(REPO / "templates")
    (tmp_path / "platform/services.yaml").write_text(f"namespace: t\nservices:\n{body}")
    return load_services(Project(tmp_path))


def test_the_repository_platform_expands() -> None:
    manifest = load_services(Project(REPO))
    assert set(manifest.services) == {
        "postgres",
        "redpanda",
        "minio",
        "airflow-init",
        "airflow-scheduler",
        "airflow-webserver",
        "dagster-init",
        "dagster-webserver",
        "dagster-daemon",
        "tools",
        "kdc",
        "kerberos-sidecar",
    }
    postgres = manifest.services["postgres"]
    assert postgres.image == "postgres:16" and postgres.persistent
    assert postgres.healthcheck.test[0] == "CMD-SHELL"
    scheduler = manifest.services["airflow-scheduler"]
    assert scheduler.depends_on == (("airflow-init", "service_completed_successfully"),)
    assert dict(scheduler.environment)["AIRFLOW__CORE__FERNET_KEY"] == "${AIRFLOW_FERNET_KEY}"
    assert manifest.services["airflow-init"].depends_on == (("postgres", "service_healthy"),)
    document = compose.compose_document(Project(REPO), manifest)
    assert document["services"]["tools"]["image"].startswith("tools:fp-")
    assert document["volumes"]["postgres_data"]
    # the three Airflow services share one image, built from the lock DAGs are validated with
    builds = {
        manifest.services[s].build
        for s in ("airflow-init", "airflow-scheduler", "airflow-webserver")
    }
    assert len({dataclasses.replace(b, declared_in="") for b in builds}) == 1
    build = builds.pop()
    assert build.name == "airflow" and dict(build.args)["LOCK"] == "airflow-2.10.txt"


def test_airflow_2_has_a_webserver_and_3_an_api_server(tmp_path: Path) -> None:
    two = manifest_for(
        tmp_path, '  postgres: {template: "postgres:16"}\n  airflow: {template: "airflow:2.10"}\n'
    )
    assert "airflow-webserver" in two.services and "airflow-api-server" not in two.services
    assert two.services["airflow-webserver"].command == ("airflow", "webserver")
    (tmp_path / "three").mkdir()
    three = manifest_for(
        tmp_path / "three",
        '  postgres: {template: "postgres:16"}\n  airflow: {template: "airflow:3.3"}\n',
    )
    assert {"airflow-api-server", "airflow-dag-processor"} <= set(three.services)
    assert three.services["airflow-api-server"].command == ("airflow", "api-server")


def test_overrides_next_to_a_template_take_effect(tmp_path: Path) -> None:
    manifest = manifest_for(
        tmp_path,
        '  postgres:\n    template: "postgres:15"\n'
        "    environment: {POSTGRES_DB: lake}\n"
        '    ports: ["6543:5432"]\n',
    )
    service = manifest.services["postgres"]
    environment = dict(service.environment)
    assert environment["POSTGRES_DB"] == "lake"
    assert environment["POSTGRES_USER"] == "${POSTGRES_USER:-postgres}"  # template's, merged
    assert service.ports == ("6543:5432",)


def test_multi_service_templates_take_only_environment_and_profiles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="defines several services"):
        manifest_for(
            tmp_path,
            '  postgres: {template: "postgres:16"}\n'
            '  airflow: {template: "airflow:3.3", ports: ["1:2"]}\n',
        )


def test_every_template_renders_every_listed_version(tmp_path: Path) -> None:
    for path in sorted((REPO / "templates/services").glob("*.yaml.j2")):
        name = path.name.removesuffix(".yaml.j2")
        versions = yaml.safe_load(
            jinja2.Template(path.read_text()).render(name=name, version="1.0")
        )["versions"]
        for version in versions:
            folder = tmp_path / f"{name}-{version}".replace(":", "_")
            folder.mkdir()
            extra = "" if name == "postgres" else '  postgres: {template: "postgres:16"}\n'
            manifest = manifest_for(folder, f'  {name}: {{template: "{name}:{version}"}}\n' + extra)
            assert manifest.services


def _catalog(tmp_path: Path, services: str, lock: str = "locks/airflow-2.10.txt"):
    from dataplatform.catalog import load_catalog

    manifest_for(tmp_path, services)
    (tmp_path / "platform/orchestration").mkdir()
    (tmp_path / "platform/orchestration/orchestration.yaml").write_text(
        f"airflow: {{lock: {lock}}}\n"
    )
    return load_catalog(Project(tmp_path))


def test_services_of_one_build_share_one_image_and_differing_ones_clash(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/Dockerfile").write_text("FROM scratch\n")
    shared = "{name: worker, context: ../ctx}"
    catalog = _catalog(tmp_path, f"  a: {{build: {shared}}}\n  b: {{build: {shared}}}\n")
    assert [image.name for image in catalog.images] == ["worker"]

    (tmp_path / "other").mkdir()
    with pytest.raises(
        UserError,
        match=r"image 'worker' is already declared at "
        r"platform/services\.yaml:3",
    ):
        _catalog(
            tmp_path / "other",
            f"  a: {{build: {shared}}}\n"
            "  b: {build: {name: worker, context: ../ctx, "
            "args: {X: '1'}}}\n",
        )


def test_build_args_read_the_environment_and_dotenv(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx/Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".env").write_text("BASE=local/debian:bookworm\n")
    monkeypatch.delenv("BASE", raising=False)
    monkeypatch.setenv("DATAPLATFORM_ROOT", str(tmp_path))
    body = (
        "  a: {build: {context: ../ctx, args: {BASE_IMAGE: '${BASE:-debian:slim}', "
        "TAG: '${TAG:-1}'}}}\n"
    )
    catalog = _catalog(tmp_path, body)
    assert dict(catalog.images[0].args) == {"BASE_IMAGE": "local/debian:bookworm", "TAG": "1"}


def test_the_platform_airflow_and_the_validation_lock_must_agree(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DATAPLATFORM_ROOT", str(tmp_path))
    with pytest.raises(UserError) as caught:
        _catalog(
            tmp_path,
            '  postgres: {template: "postgres:16"}\n  airflow: {template: "airflow:3.3"}\n',
        )
    assert str(caught.value).endswith(
        "the platform runs airflow:3.3 but platform/orchestration/orchestration.yaml validates "
        "with airflow-2.10.txt — set airflow.lock to locks/airflow-3.3.txt there, or change "
        "the template's version"
    )


def test_a_service_name_too_long_for_a_hostname_is_one_line(tmp_path: Path) -> None:
    """The name becomes the container's hostname (one DNS label, at most 63 characters):
    longer passed validation and then failed `up` with "sethostname: invalid argument"."""
    fits = "s" * 63
    assert fits in manifest_for(tmp_path, f"  {fits}: {{image: busybox}}\n").services
    (tmp_path / "long").mkdir()
    with pytest.raises(ConfigError, match=r"services\.s{64}: service name is 64 characters"):
        manifest_for(tmp_path / "long", f"  {'s' * 64}: {{image: busybox}}\n")
