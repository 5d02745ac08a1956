"""dbt through doit on real DuckDB: builds, no-ops, exactly the changed pipeline, failures that
name the model, and bad pipeline input as one line."""

from __future__ import annotations

import re

import pytest

from support import TempProject, copy_from_checkout, executed, require_dbt_extra

duckdb = require_dbt_extra()  # skips (fails under CI) without the dbt extra


@pytest.fixture
def repo(project: TempProject) -> TempProject:
    for part in ("pipelines/_templates", "pipelines/shared", "pipelines/stavanger_parking"):
        copy_from_checkout(part, project.root)
    for name in ("alpha", "beta"):
        assert project.invoke("create-pipeline", name).returncode == 0
    first = project.doit("-n", "2", "-P", "thread", "dbt")
    assert first.returncode == 0, first.stdout + first.stderr
    assert executed(first, "dbt:") == ["dbt:alpha", "dbt:beta", "dbt:stavanger_parking"]
    return project


def test_example_builds_its_marts_on_duckdb(repo: TempProject) -> None:
    warehouse = repo.root / "pipelines/stavanger_parking/build/stavanger_parking.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as db:
        peaks = db.execute(
            "select count(*), count(distinct zone) from mart_zone_daily_peak"
        ).fetchone()
        rows = db.execute("select count(*) from fct_hourly_occupancy").fetchone()
    assert peaks == (18, 9)  # 9 zones × 2 days
    assert rows == (576,)


def test_rebuilds_exactly_what_changed(repo: TempProject) -> None:
    again = repo.doit("dbt")
    assert again.returncode == 0 and executed(again, "dbt:") == []  # a no-op runs no dbt at all

    model = repo.root / "pipelines/beta/dbt/models/marts/daily_sales.sql"
    model.write_text(model.read_text().replace("count(*) as sales", "count(*) as sale_count"))
    result = repo.doit("dbt")
    assert result.returncode == 0, result.stdout
    assert executed(result, "dbt:") == ["dbt:beta"]

    macro = repo.root / "pipelines/shared/macros/percent_of.sql"
    macro.write_text(macro.read_text() + "\n{# touched #}\n")
    assert "dbt:stavanger_parking" in executed(repo.doit("dbt"), "dbt:")

    (repo.root / "pipelines/alpha/build/alpha.duckdb").unlink()
    assert executed(repo.doit("dbt"), "dbt:") == ["dbt:alpha"]
    assert executed(repo.doit("dbt"), "dbt:") == []


def test_a_failing_model_names_itself(repo: TempProject) -> None:
    model = repo.root / "pipelines/alpha/dbt/models/marts/daily_sales.sql"
    model.write_text("select no_such_column from {{ ref('stg_events') }}\n")
    result = repo.doit("dbt")
    assert result.returncode == 1
    out = result.stdout
    assert "✗ dbt:alpha: dbt build failed" in out
    assert re.search(r"model daily_sales: .*no_such_column", out), out
    assert "Traceback" not in out + result.stderr


def test_a_test_failure_names_the_test(repo: TempProject) -> None:
    seed = repo.root / "pipelines/beta/dbt/seeds/events.csv"
    seed.write_text(seed.read_text() + "4,2026-01-01 18:00:00,refund,5\n")
    result = repo.doit("dbt")
    assert result.returncode == 1
    assert "    test unique_stg_events_event_id: Got 1 result" in result.stdout, result.stdout
    assert re.search(
        r"    test accepted_values_stg_events_event_kind\S*: Got 1 result", result.stdout
    )

    (repo.root / "pipelines/alpha/dbt/dbt_project.yml").unlink()
    result = repo.doit("dbt:alpha")
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert line == (
        "✗ dbt:alpha: pipelines/alpha/dbt has no dbt_project.yml — add one (see "
        "pipelines/_templates/dbt) or remove the dbt folder"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: alpha\ndesription: typo\n",
            "✗ pipelines/alpha/pipeline.yaml:2: desription: unknown key — did you mean "
            "'description'?",
        ),
        (
            "name: alpha\nowner: [a, b]\n",
            "✗ pipelines/alpha/pipeline.yaml:2: owner: must be a string, got a list",
        ),
    ],
)
def test_bad_pipeline_manifest_is_one_line(project: TempProject, text: str, expected: str) -> None:
    (project.root / "pipelines/alpha").mkdir(parents=True)
    (project.root / "pipelines/alpha/pipeline.yaml").write_text(text)
    result = project.doit("dbt")
    assert result.returncode == 3
    assert result.stderr.strip() == expected


@pytest.fixture
def fresh(project: TempProject) -> TempProject:
    """One new pipeline, not built yet: these errors stop dbt before it runs anything."""
    for part in ("pipelines/_templates", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    assert project.invoke("create-pipeline", "alpha").returncode == 0
    return project


MART = "pipelines/alpha/dbt/models/marts/daily_sales.sql"
SCHEMA = "pipelines/alpha/dbt/models/staging/_stg_events.yml"


@pytest.mark.parametrize(
    ("path", "text", "where", "reason"),
    [
        (
            MART,
            "-- daily\n\nselect * from {{ ref('no_such_model') }}\n",
            f"{MART}:3",
            "depends on a node named 'no_such_model' which was not found",
        ),
        (
            MART,
            "select 1 as a,\n  {{ percent_of( }}\n",
            f"{MART}:2",
            "unexpected '}', expected ')'",
        ),
        (
            SCHEMA,
            "version: 2\nmodels:\n  - name: stg_events\n    columns: [\n",
            f"{SCHEMA}:5",
            "did not find expected node content",
        ),
    ],
)
def test_a_parse_or_compile_error_keeps_dbts_reason_file_and_line(
    fresh: TempProject, path: str, text: str, where: str, reason: str
) -> None:
    (fresh.root / path).write_text(text)
    for task, verb in (("dbt:alpha", "build"), ("dbt-manifest:alpha", "parse")):
        result = fresh.doit(task)
        assert result.returncode == 1
        out = result.stdout
        [head] = [x for x in out.splitlines() if x.startswith("✗")]
        assert head.startswith(f"✗ {task}: dbt {verb} failed") and head.endswith(f" at {where}")
        assert reason in out, out
        log = (
            "pipelines/alpha/build/logs/dbt.log"
            if verb == "build"
            else "pipelines/alpha/build/parse/logs/dbt.log"
        )
        assert f"    full log: {log}\n" in out and (fresh.root / log).is_file()
        assert "Traceback" not in out + result.stderr


def test_an_undefined_macro_in_a_model_names_the_model_file_and_line(fresh: TempProject) -> None:
    (fresh.root / MART).write_text("select\n  {{ no_such_macro() }} as x\n")
    result = fresh.doit("dbt:alpha")
    assert result.returncode == 1
    assert re.search(
        rf"    model daily_sales: {re.escape(MART)}:2: Compilation Error .*"
        r"'no_such_macro' is undefined",
        result.stdout,
    ), result.stdout


def test_a_comment_in_a_yaml_input_rebuilds_nothing(repo: TempProject) -> None:
    project_file = repo.root / "pipelines/alpha/dbt/dbt_project.yml"
    project_file.write_text(project_file.read_text() + "# owned by the events team\n")
    schema = repo.root / "pipelines/alpha/dbt/models/staging/_stg_events.yml"
    schema.write_text(schema.read_text() + "\n# tests above\n")
    result = repo.doit("dbt")
    assert result.returncode == 0 and executed(result, "dbt") == [], result.stdout

    schema.write_text(
        schema.read_text().replace(
            "  - name: stg_events\n", "  - name: stg_events\n    description: x\n"
        )
    )
    assert "description: x" in schema.read_text()
    assert executed(repo.doit("dbt"), "dbt") == ["dbt:alpha"]


def test_a_comment_in_the_cdc_config_rebuilds_no_dbt(project: TempProject) -> None:
    """The CDC generator's manifest records its config's digest; the dbt build follows the
    generated staging files, which a comment does not change."""
    for part in ("pipelines/_templates", "pipelines/shared", "platform/cdc"):
        copy_from_checkout(part, project.root)
    assert project.invoke("create-pipeline", "orders", "--template", "cdc").returncode == 0
    config = project.root / "pipelines/orders/config"
    (config / "cdc.example.yaml").rename(config / "cdc.yaml")
    assert project.doit("dbt:orders").returncode == 0

    (config / "cdc.yaml").write_text((config / "cdc.yaml").read_text() + "# reviewed\n")
    result = project.doit("dbt:orders")
    assert result.returncode == 0, result.stdout
    assert executed(result) == [], result.stdout  # the config says what it said

    (config / "cdc.yaml").write_text(
        (config / "cdc.yaml")
        .read_text()
        .replace("UpdatedAt: datetime2(3)", "UpdatedAt: datetime2(3)\n      Note: nvarchar(20)")
    )
    assert executed(project.doit("dbt:orders")) == ["cdc:orders", "dbt:orders"]
