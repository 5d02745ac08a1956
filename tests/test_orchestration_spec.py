"""The `orchestration:` section of pipeline.yaml and the repo-wide orchestration.yaml: defaults,
every accepted form, and every bad value as one line naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.errors import ConfigError
from dataplatform.orchestration.spec import load_settings
from dataplatform.pipelines.manifest import load_pipeline
from dataplatform.project import Project

SETTINGS = """\
default_engine: airflow
defaults: {schedule: "@daily", retries: 2, retry_delay: 5m, start_date: 2024-01-01,
           catchup: false}
policies: {require_owner: true, require_tags: true, min_retries: 1}
airflow: {lock: locks/airflow-2.10.txt}
stubs: {variables: {region: west}}
"""


def _project(tmp_path: Path, section: str, settings: str = SETTINGS) -> tuple[Project, Path]:
    (tmp_path / "platform" / "orchestration" / "locks").mkdir(parents=True)
    (tmp_path / "platform/orchestration/locks/airflow-2.10.txt").write_text(
        "# compiled\napache-airflow==2.10.5\n    # via -r x.in\npandas==2.2.3\n"
        "psycopg2-binary==2.9.13\n"
    )
    (tmp_path / "platform" / "orchestration" / "orchestration.yaml").write_text(settings)
    directory = tmp_path / "pipelines" / "sales"
    directory.mkdir(parents=True)
    (directory / "pipeline.yaml").write_text(
        f"name: sales\nowner: data-team\norchestration:\n{section}"
    )
    return Project(tmp_path), directory


def test_an_empty_section_takes_the_repo_defaults(tmp_path: Path) -> None:
    project, directory = _project(tmp_path, "  {}\n")
    spec = load_pipeline(project, directory).orchestration
    assert spec is not None
    assert (spec.engine, spec.dag_id, spec.schedule, spec.owner) == (
        "airflow",
        "sales",
        "@daily",
        "data-team",
    )
    assert (spec.retries, spec.retry_delay_seconds, spec.start_date, spec.catchup) == (
        2,
        300,
        "2024-01-01",
        False,
    )
    assert spec.dbt is None and spec.cdc_ddl is None and spec.tasks == ()
    settings = load_settings(project)
    assert settings.policies.min_retries == 1 and settings.stub_variables == {"region": "west"}
    assert (
        settings.locks["airflow"]
        == (tmp_path / "platform/orchestration/locks/airflow-2.10.txt").resolve()
    )


def test_every_key_set(tmp_path: Path) -> None:
    project, directory = _project(
        tmp_path,
        """\
  engine: dagster
  dag_id: sales_daily
  schedule: "30  6 * * 1-5"
  owner: finance
  tags: [sales, finance]
  retries: 0
  retry_delay: 1m30s
  start_date: "2025-03-01"
  catchup: true
  dbt: false
  cdc_ddl: true
  tasks:
    - {id: extract, bash: scripts/extract.sh, after: start}
    - {id: notify, bash: "echo done", after: extract}
""",
    )
    spec = load_pipeline(project, directory).orchestration
    assert spec is not None
    assert (spec.engine, spec.dag_id, spec.schedule, spec.owner, spec.tags) == (
        "dagster",
        "sales_daily",
        "30 6 * * 1-5",
        "finance",
        ("sales", "finance"),
    )
    assert (spec.retries, spec.retry_delay_seconds, spec.start_date, spec.catchup) == (
        0,
        90,
        "2025-03-01",
        True,
    )
    assert (spec.dbt, spec.cdc_ddl) == (False, True)
    assert [(t.id, t.after) for t in spec.tasks] == [("extract", "start"), ("notify", "extract")]


def test_requirements_the_lock_meets_are_accepted(tmp_path: Path) -> None:
    project, directory = _project(tmp_path, "  requirements: ['pandas>=2,<3', 'Psycopg2_Binary']\n")
    spec = load_pipeline(project, directory).orchestration
    assert spec is not None and spec.requirements == ("pandas>=2,<3", "Psycopg2_Binary")


def test_null_schedule_means_unscheduled(tmp_path: Path) -> None:
    project, directory = _project(tmp_path, "  schedule: null\n")
    spec = load_pipeline(project, directory).orchestration
    assert spec is not None and spec.schedule is None


def test_a_pipeline_without_the_section_is_not_orchestrated(tmp_path: Path) -> None:
    project, directory = _project(tmp_path, "  {}\n")
    (directory / "pipeline.yaml").write_text("name: sales\n")
    assert load_pipeline(project, directory).orchestration is None


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "  engine: airflw\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.engine: unknown engine 'airflw' — "
            "use one "
            "of airflow, dagster",
        ),
        (
            "  schedul: '@daily'\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.schedul: unknown key — did you mean "
            "'schedule'?",
        ),
        (
            "  schedule: '@dayly'\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.schedule: unknown preset '@dayly' "
            "— use "
            "one of @once, @continuous, @hourly, @daily, @weekly, @monthly, @quarterly, @yearly, "
            "@annually, a cron expression, or null",
        ),
        (
            "  schedule: '0 6 * *'\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.schedule: '0 6 * *' is not a cron "
            "expression — write five fields (minute hour day month weekday), e.g. '0 6 * * *', "
            "or a "
            "preset such as @daily",
        ),
        (
            "  retries: -1\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.retries: must be 0 or more, got -1",
        ),
        (
            "  retries: two\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.retries: must be an integer, got "
            "string "
            "'two'",
        ),
        (
            "  retry_delay: soon\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.retry_delay: 'soon' is not a "
            "duration — "
            "write e.g. 30s, 5m or 1h",
        ),
        (
            "  start_date: 2024-13-01\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.start_date: '2024-13-01' is not a "
            "valid "
            "timestamp (month must be in 1..12) — quote it if it is meant as text",
        ),
        (
            "  start_date: 'soon'\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.start_date: 'soon' is not a date — "
            "write it as YYYY-MM-DD, e.g. 2024-01-01",
        ),
        (
            "  catchup: sometimes\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.catchup: must be true or false, got "
            "string 'sometimes'",
        ),
        (
            "  tags: [ok, 3]\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.tags[1]: must be a string, got "
            "number 3",
        ),
        (
            "  dag_id: 'my dag'\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.dag_id: 'my dag' is not a valid "
            "DAG id — "
            "use letters, digits, '_', '-' and '.'",
        ),
        (
            "  tasks:\n    - {id: notify, bash: 'echo hi', after: load}\n",
            "pipelines/sales/pipeline.yaml:5: orchestration.tasks[0].after: 'load' is neither "
            "a stage "
            "nor an earlier task — use start, ddl, dbt or the id of a task listed above",
        ),
        (
            "  tasks:\n    - {id: notify}\n",
            "pipelines/sales/pipeline.yaml:5: orchestration.tasks[0]: a task needs 'bash' — e.g. "
            "{id: notify, bash: 'scripts/notify.sh', after: dbt}",
        ),
        (
            "  tasks:\n    - {id: a, bash: x}\n    - {id: a, bash: y}\n",
            "pipelines/sales/pipeline.yaml:6: orchestration.tasks[1].id: task 'a' is declared "
            "twice "
            "— give each task its own id",
        ),
        (
            "  requirements: ['pandas>=3']\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.requirements[0]: 'pandas>=3' is "
            "not met "
            "by airflow-2.10.txt (it pins 2.2.3) — add it to airflow-2.10.in and recompile the "
            "lock "
            "(see the README)",
        ),
        (
            "  requirements: ['polars']\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.requirements[0]: 'polars' is not "
            "met by "
            "airflow-2.10.txt (it does not have it) — add it to airflow-2.10.in and recompile the "
            "lock (see the README)",
        ),
        (
            "  requirements: ['pandas >>= 2']\n",
            "pipelines/sales/pipeline.yaml:4: orchestration.requirements[0]: 'pandas >>= 2' is "
            "not a "
            "requirement — write it as pip does, e.g. 'requests>=2.31'",
        ),
        (
            "  - engine\n",
            "pipelines/sales/pipeline.yaml:3: orchestration: must be a mapping, got a list — "
            "orchestration is a mapping of engine, schedule, owner, ...",
        ),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, section: str, expected: str) -> None:
    project, directory = _project(tmp_path, section)
    with pytest.raises(ConfigError) as caught:
        load_pipeline(project, directory)
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            "default_engine: prefect\n",
            "platform/orchestration/orchestration.yaml:1: default_engine: unknown engine "
            "'prefect' — "
            "use one of airflow, dagster",
        ),
        (
            "policies: {min_retrys: 1}\n",
            "platform/orchestration/orchestration.yaml:1: policies.min_retrys: unknown key — "
            "did you "
            "mean 'min_retries'?",
        ),
        (
            "defaults:\n  schedule: every day\n",
            "platform/orchestration/orchestration.yaml:2: defaults.schedule: 'every day' is not a "
            "cron expression — write five fields (minute hour day month weekday), e.g. '0 6 * "
            "* *', "
            "or a preset such as @daily",
        ),
        (
            "stubs: {variables: {limit: 3}}\n",
            "platform/orchestration/orchestration.yaml:1: stubs.variables.limit: must be a string, "
            "got number 3 — stub values are strings (JSON text for JSON variables)",
        ),
    ],
)
def test_bad_settings_are_one_line(tmp_path: Path, settings: str, expected: str) -> None:
    project, _ = _project(tmp_path, "  {}\n", settings)
    with pytest.raises(ConfigError) as caught:
        load_settings(project)
    assert str(caught.value) == expected
