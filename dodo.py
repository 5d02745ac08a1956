"""doit entry point: `doit` builds everything derived, incrementally. Logic lives in lib/."""

from pathlib import Path

from dataplatform.build.dodo import Loader, doit_config

DOIT_CONFIG = doit_config()
LOADER = Loader(Path(__file__).parent)


def task_image():
    """Docker images addressed by the content of their build context."""
    yield from LOADER.image_tasks()


def task_cdc():
    """Redpanda Connect configs and PostgreSQL DDL of CDC pipelines."""
    yield from LOADER.cdc_tasks()


def task_dbt():
    """dbt build of each pipeline on the embedded DuckDB warehouse."""
    yield from LOADER.dbt_tasks()
