"""Where orchestration inputs and outputs live: cheap to import, for doit's task creation.

Per pipeline: hand-written DAG files in `pipelines/<p>/orchestration/` (`*.py`; files starting
with `_` are helper modules, not DAG files), the generated ones in
`pipelines/<p>/generated/orchestration/`, the validation result in `pipelines/<p>/build/`. The
platform's assembled dags folder and Dagster workspace live under `platform/orchestration/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataplatform.dbt import layout as dbt_layout
from dataplatform.project import Project

if TYPE_CHECKING:  # parsing loads it; doit's load cache rebuilds tasks without it
    from dataplatform.orchestration.spec import Orchestration

HAND_WRITTEN = "orchestration"
OUTPUT = Path("generated/orchestration")
TEMPLATES = Path("templates/orchestration")
# Bump when the generator's code changes what it writes: every orchestrated pipeline regenerates.
GENERATOR = "dataplatform.orchestration/1"
MANIFEST_NAME = "dbt_manifest.json"
PROFILES_NAME = "profiles.yml"
DAGSTER_MODULE = "definitions.py"
WORKSPACE = "workspace.yaml"
CHECKER = Path(__file__).with_name("dagcheck.py")


@dataclass(frozen=True)
class Member:
    """One orchestrated pipeline as the platform's assembly sees it."""

    pipeline: str
    engine: str
    directory: Path


@dataclass(frozen=True)
class Plan:
    """What one pipeline's run does, its declaration resolved against what it has."""

    dbt: bool
    ddl: bool


def plan(pipeline_dir: Path, spec: Orchestration, has_cdc: bool) -> Plan:
    has_dbt = (dbt_layout.dbt_dir(pipeline_dir) / dbt_layout.PROJECT_FILE).is_file()
    return Plan(
        dbt=has_dbt if spec.dbt is None else spec.dbt and has_dbt,
        ddl=has_cdc if spec.cdc_ddl is None else spec.cdc_ddl and has_cdc,
    )


def generated_names(
    pipeline: str, pipeline_dir: Path, spec: Orchestration, has_cdc: bool
) -> list[str]:
    """The files the generator writes for a pipeline, known before it first runs."""
    names = [MANIFEST_NAME, PROFILES_NAME] if plan(pipeline_dir, spec, has_cdc).dbt else []
    names.append(dag_file_name(pipeline) if spec.engine == "airflow" else DAGSTER_MODULE)
    return names


def output_dir(pipeline_dir: Path) -> Path:
    return pipeline_dir / OUTPUT


def hand_written_dir(pipeline_dir: Path) -> Path:
    return pipeline_dir / HAND_WRITTEN


def validation_result(pipeline_dir: Path) -> Path:
    return pipeline_dir / "build" / "orchestration" / "validation.json"


def dag_file_name(pipeline: str) -> str:
    return f"{pipeline}_dag.py"


def hand_written_files(pipeline_dir: Path) -> list[Path]:
    """Every `*.py` a person wrote for the pipeline's orchestration (helpers included)."""
    directory = hand_written_dir(pipeline_dir)
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*.py")
        if "__pycache__" not in p.parts and not p.name.startswith(".")
    )


def is_helper(path: Path) -> bool:
    """A helper module a DAG file imports, not a DAG file itself."""
    return path.name.startswith("_")


def templates(project: Project) -> list[Path]:
    return sorted((project.root / TEMPLATES).glob("*.j2"))
