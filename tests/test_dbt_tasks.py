"""dbt through doit on real DuckDB: builds, no-ops, exactly the changed pipeline, failures that
name the model, and bad pipeline input as one line."""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import TempProject, copy_from_checkout, executed


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
        peaks = db.execute("select count(*), count(distinct zone) from mart_zone_daily_peak"
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
    assert re.search(r"    test accepted_values_stg_events_event_kind\S*: Got 1 result",
                     result.stdout)

    (repo.root / "pipelines/alpha/dbt/dbt_project.yml").unlink()
    result = repo.doit("dbt:alpha")
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert line == ("✗ dbt:alpha: pipelines/alpha/dbt has no dbt_project.yml — add one (see "
                    "pipelines/_templates/dbt) or remove the dbt folder")


@pytest.mark.parametrize(("text", "expected"), [
    ("name: alpha\ndesription: typo\n",
     "ERROR: pipelines/alpha/pipeline.yaml:2: desription: unknown key — did you mean "
     "'description'?"),
    ("name: alpha\nowner: [a, b]\n",
     "ERROR: pipelines/alpha/pipeline.yaml:2: owner: must be a string, got a list"),
])
def test_bad_pipeline_manifest_is_one_line(project: TempProject, text: str,
                                           expected: str) -> None:
    (project.root / "pipelines/alpha").mkdir(parents=True)
    (project.root / "pipelines/alpha/pipeline.yaml").write_text(text)
    result = project.doit("dbt")
    assert result.returncode == 3
    assert result.stderr.strip() == expected
