"""The shipped service templates expand into complete, valid services (their images cannot be
pulled here, so they are checked as the manifest and compose.yaml see them)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml

from conftest import REPO
from dataplatform.errors import ConfigError
from dataplatform.project import Project
from dataplatform.services import compose
from dataplatform.services.manifest import load_services


def manifest_for(tmp_path: Path, body: str):
    (tmp_path / "platform").mkdir(exist_ok=True)
    (tmp_path / "dodo.py").write_text("")
    (tmp_path / "templates").symlink_to(REPO / "templates")
    (tmp_path / "platform/services.yaml").write_text(f"namespace: t\nservices:\n{body}")
    return load_services(Project(tmp_path))


def test_the_repository_platform_expands() -> None:
    manifest = load_services(Project(REPO))
    assert set(manifest.services) == {
        "postgres", "redpanda", "minio", "airflow-init", "airflow-scheduler",
        "airflow-api-server", "dagster-webserver", "dagster-daemon", "tools"}
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


def test_airflow_2_has_a_webserver_and_3_an_api_server(tmp_path: Path) -> None:
    two = manifest_for(tmp_path, '  postgres: {template: "postgres:16"}\n'
                                 '  airflow: {template: "airflow:2.10"}\n')
    assert "airflow-webserver" in two.services and "airflow-api-server" not in two.services
    assert two.services["airflow-webserver"].command == ("webserver",)


def test_overrides_next_to_a_template_take_effect(tmp_path: Path) -> None:
    manifest = manifest_for(tmp_path, '  postgres:\n    template: "postgres:15"\n'
                                      '    environment: {POSTGRES_DB: lake}\n'
                                      '    ports: ["6543:5432"]\n')
    service = manifest.services["postgres"]
    environment = dict(service.environment)
    assert environment["POSTGRES_DB"] == "lake"
    assert environment["POSTGRES_USER"] == "${POSTGRES_USER:-postgres}"  # template's, merged
    assert service.ports == ("6543:5432",)


def test_multi_service_templates_take_only_environment_and_profiles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="defines several services"):
        manifest_for(tmp_path, '  postgres: {template: "postgres:16"}\n'
                               '  airflow: {template: "airflow:3.0", ports: ["1:2"]}\n')


def test_every_template_renders_every_listed_version(tmp_path: Path) -> None:
    for path in sorted((REPO / "templates/services").glob("*.yaml.j2")):
        name = path.name.removesuffix(".yaml.j2")
        versions = yaml.safe_load(jinja2.Template(path.read_text()).render(
            name=name, version="1.0"))["versions"]
        for version in versions:
            folder = tmp_path / f"{name}-{version}".replace(":", "_")
            folder.mkdir()
            extra = "" if name == "postgres" else '  postgres: {template: "postgres:16"}\n'
            manifest = manifest_for(folder, f'  {name}: {{template: "{name}:{version}"}}\n'
                                    + extra)
            assert manifest.services
