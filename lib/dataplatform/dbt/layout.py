"""Where a pipeline's dbt project, its inputs and its build outputs are. Cheap to import: doit
calls it for every pipeline while loading tasks, and it only stats files."""

from __future__ import annotations

import os
from pathlib import Path

from dataplatform.project import Project

PROJECT_FILE = "dbt_project.yml"
# Folders of a dbt project whose files are inputs of a build.
INPUT_DIRS = ("models", "seeds", "macros", "tests", "snapshots", "analyses")
INPUT_FILES = (PROJECT_FILE, "packages.yml", "dependencies.yml", "selectors.yml")
SHARED_MACROS = Path("pipelines/shared/macros")
# Read by every project's macro-paths: the shared macros' absolute path, for runs from a copy
# of the project (cosmos links the project into a temporary folder); unset, the relative
# default `../../shared/macros` applies.
SHARED_MACROS_ENV = "DATAPLATFORM_SHARED_MACROS"
BUILD_DIR = "build"


def dbt_dir(pipeline_dir: Path) -> Path:
    return pipeline_dir / "dbt"


def build_dir(pipeline_dir: Path) -> Path:
    """Git-ignored: profiles, dbt's target/ and logs/, and the DuckDB warehouse file."""
    return pipeline_dir / BUILD_DIR


def warehouse(pipeline_dir: Path) -> Path:
    return build_dir(pipeline_dir) / f"{pipeline_dir.name}.duckdb"


def manifest(pipeline_dir: Path) -> Path:
    """The project's dbt manifest (`dbt parse`), stripped of run-specific fields."""
    return build_dir(pipeline_dir) / "dbt_manifest.json"


def _files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(current) / f for f in sorted(files) if not f.startswith(".")]
    return found


def input_files(project: Project, pipeline_dir: Path) -> list[Path]:
    """Everything a `dbt build` of this pipeline reads, shared macros included."""
    return project_input_files(pipeline_dir, project.root)


def project_input_files(pipeline_dir: Path, repository_root: Path) -> list[Path]:
    """`input_files` from the repository's root folder (for callers without a Project)."""
    root = dbt_dir(pipeline_dir)
    files = [root / name for name in INPUT_FILES if (root / name).is_file()]
    for name in INPUT_DIRS:
        if (root / name).is_dir():
            files += _files_under(root / name)
    shared = repository_root / SHARED_MACROS
    if shared.is_dir():
        files += _files_under(shared)
    return files
