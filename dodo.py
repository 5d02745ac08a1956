"""doit entry point: `doit` builds everything derived, incrementally. Logic lives in lib/."""

from pathlib import Path

from dataplatform.build.dodo import Loader, doit_config

DOIT_CONFIG = doit_config()
LOADER = Loader(Path(__file__).parent)


def task_image():
    """Docker images addressed by the content of their build context."""
    yield from LOADER.image_tasks()


def task_cdc():
    """Redpanda Connect configs and dbt staging of CDC pipelines."""
    yield from LOADER.cdc_tasks()


def task_warehouse():
    """PostgreSQL DDL of each pipeline's warehouse tables (declared and CDC), objects.json."""
    yield from LOADER.warehouse_tasks()


def task_dbt():
    """dbt build of each pipeline on the embedded DuckDB warehouse."""
    yield from LOADER.dbt_tasks()


def task_dbt_manifest():
    """dbt manifest (dbt parse) of each orchestrated pipeline: what its DAG reads."""
    yield from LOADER.dbt_manifest_tasks()


def task_orchestration():
    """Airflow DAGs / Dagster definitions of each pipeline, validated, and the assembled
    dags folder and workspace of the platform."""
    yield from LOADER.orchestration_tasks()
