"""Settings read through one place (`dataplatform.settings`): the environment, then `.env`,
for every reader — doit's dbt target, the dbt run itself, the CDC sink DSN."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dataplatform import settings
from dataplatform.errors import ConfigError
from dataplatform.workstation import envfile
from support import (
    TempProject,
    copy_from_checkout,
    free_port,
    postgres_bindir,
    postgres_cluster,
    require,
    require_dbt_extra,
)


@pytest.fixture
def dbt_repo(project: TempProject) -> TempProject:
    require_dbt_extra()  # these tests run dbt: skipped (failed under CI) without the extra
    for part in ("pipelines/_templates", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    project.services("")
    created = project.invoke("create-pipeline", "alpha")
    assert created.returncode == 0, created.stdout + created.stderr
    return project


def test_the_dbt_target_honours_env_under_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(settings.DBT_TARGET, raising=False)
    assert settings.dbt_target(tmp_path) == "duckdb"
    (tmp_path / ".env").write_text(f"# mine\n{settings.DBT_TARGET}=postgres\n")
    assert settings.dbt_target(tmp_path) == "postgres"
    monkeypatch.setenv(settings.DBT_TARGET, "duckdb")
    assert settings.dbt_target(tmp_path) == "duckdb"  # the environment wins
    monkeypatch.delenv(settings.DBT_TARGET)
    (tmp_path / ".env").write_text(f"# mine\n{settings.DBT_TARGET}=snowflake\n")
    with pytest.raises(ConfigError) as caught:
        settings.dbt_target(tmp_path)
    assert str(caught.value) == (
        ".env:2: DATAPLATFORM_DBT_TARGET: 'snowflake' is not a dbt "
        "target here — use one of duckdb, postgres"
    )


def test_doit_reads_the_dbt_target_from_env(dbt_repo: TempProject) -> None:
    dbt_repo.write(".env", "DATAPLATFORM_DBT_TARGET=snowflake\n", mode=0o600)
    result = dbt_repo.doit("dbt:alpha")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert ".env:1: DATAPLATFORM_DBT_TARGET: 'snowflake' is not a dbt target here" in out, out
    assert "Traceback" not in out


def test_dbt_sees_the_values_of_env(dbt_repo: TempProject) -> None:
    """What the generated profile reads with env_var() (POSTGRES_PASSWORD and friends) comes
    from `.env` too: a model reading a variable set only in `.env` builds with its value."""
    dbt_repo.write(
        ".env", "DP_PROBE_HOST=warehouse.internal\nDP_PROBE=${DP_PROBE_HOST}:5432\n", mode=0o600
    )
    dbt_repo.write(
        "pipelines/alpha/dbt/models/marts/probe.sql",
        "select '{{ env_var(\"DP_PROBE\") }}' as seen\n",
    )
    result = dbt_repo.doit("dbt:alpha", DP_PROBE=None, DP_PROBE_HOST=None)
    assert result.returncode == 0, result.stdout + result.stderr
    duckdb = require_dbt_extra()
    warehouse = dbt_repo.root / "pipelines/alpha/build/alpha.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as db:
        assert db.execute("select seen from probe").fetchone() == ("warehouse.internal:5432",)
    profile = yaml.safe_load((dbt_repo.root / "pipelines/alpha/build/profiles.yml").read_text())
    password = profile["alpha"]["outputs"]["postgres"]["password"]
    assert password == "{{ env_var('POSTGRES_PASSWORD') }}"  # a reference, and no default


def test_env_values_expand_references_environment_first(tmp_path: Path, monkeypatch) -> None:
    for name in ("A_USER", "A_PASS", "A_DSN", "A_LITERAL", "A_DEFAULTED"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "A_USER=ada\nA_PASS=s3cret-value\nA_DSN=postgres://${A_USER}:${A_PASS}@h/db\n"
        "A_LITERAL='${A_PASS}'\nA_DEFAULTED=${A_MISSING:-fallback}\n"
    )
    values = settings.environment(tmp_path)
    assert values["A_DSN"] == "postgres://ada:s3cret-value@h/db"
    assert values["A_LITERAL"] == "${A_PASS}"
    assert values["A_DEFAULTED"] == "fallback"
    monkeypatch.setenv("A_PASS", "from-ci")
    assert settings.environment(tmp_path)["A_DSN"] == "postgres://ada:from-ci@h/db"
    monkeypatch.setenv("A_DSN", "postgres://other")
    assert settings.environment(tmp_path)["A_DSN"] == "postgres://other"


@pytest.mark.postgres
def test_the_cdc_dsn_setup_writes_logs_in_to_a_password_protected_postgres(
    project: TempProject, monkeypatch
) -> None:
    """The DSN in the `.env` setup writes carries the password setup generated: a real
    PostgreSQL that requires it (scram-sha-256 over TCP) accepts the DSN as is."""
    for name in (
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "CDC_POSTGRES_DSN",
    ):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    project.write(".env", f"POSTGRES_PORT={port}\n", mode=0o600)
    assert project.invoke("setup").returncode == 0
    text = (project.root / ".env").read_text()
    password = envfile.read(project.root / ".env").values["POSTGRES_PASSWORD"]
    assert text.count(password) == 1  # the DSN references it, it does not copy it
    dsn = settings.environment(project.root)["CDC_POSTGRES_DSN"]

    bindir = postgres_bindir()
    require(bindir is not None, "PostgreSQL server binaries are not installed")

    def password_file(folder: Path) -> dict[str, str]:
        (folder / "pw").write_text(password + "\n")
        return {}

    initdb = ("--auth=scram-sha-256", "--pwfile={folder}/pw")
    with postgres_cluster(
        bindir, listen="127.0.0.1", port=port, initdb=initdb, prepare=password_file
    ):
        import psycopg

        with psycopg.connect(dsn.replace("/warehouse?", "/postgres?")) as conn:
            assert conn.execute("select current_user").fetchone() == ("postgres",)
