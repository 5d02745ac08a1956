"""Assemble the platform's orchestration from every pipeline: the Airflow dags folder
(`platform/orchestration/dags/<pipeline>/`, generated and hand-written DAG files with the dbt
manifest and profile beside them) and the Dagster `workspace.yaml` (one code location per
pipeline). Both are generated, git-ignored, rewritten only where content changed, and stale
pipelines' files are removed. A dag_id used by two pipelines stops the assembly, naming both."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from dataplatform import generated
from dataplatform.errors import UserError
from dataplatform.orchestration import layout
from dataplatform.orchestration.layout import Member
from dataplatform.orchestration.validate import read_result
from dataplatform.project import Project

GENERATOR = "dataplatform.orchestration.assemble/1"


def duplicate_ids(project: Project, members: list[Member]) -> list[str]:
    """One line per dag_id (or Dagster location) that two pipelines share."""
    owner: dict[str, str] = {}
    problems = []
    for member in members:
        result = read_result(layout.validation_result(member.directory))
        if not result:
            raise UserError(
                f"pipelines/{member.pipeline}: not validated yet — run "
                f"`doit validate:{member.pipeline}`"
            )
        for dag in result.get("dags", []):
            key = f"{member.engine}:{dag['dag_id']}"
            if key in owner:
                problems.append(
                    f"{dag['file']}: dag_id {dag['dag_id']!r} is also defined in "
                    f"{owner[key]} — dag_ids must be unique across all pipelines"
                )
            else:
                owner[key] = dag["file"]
    return problems


def _airflow_files(member: Member) -> dict[str, str]:
    files: dict[str, str] = {}
    generated_dir = layout.output_dir(member.directory)
    for path in generated.listed_files(generated_dir):
        files[f"{member.pipeline}/{path.name}"] = path.read_text(encoding="utf-8")
    hand = layout.hand_written_dir(member.directory)
    for path in layout.hand_written_files(member.directory):
        files[f"{member.pipeline}/{path.relative_to(hand).as_posix()}"] = path.read_text(
            encoding="utf-8"
        )
    return files


def _workspace(project: Project, members: list[Member]) -> str:
    """workspace.yaml: each pipeline's definitions as a code location, paths relative to it."""
    here = project.dagster_workspace_dir
    locations = []
    for member in members:
        module = layout.output_dir(member.directory) / layout.DAGSTER_MODULE
        locations.append(
            {
                "python_file": {
                    "relative_path": os.path.relpath(module, here),
                    "working_directory": os.path.relpath(member.directory, here),
                    "location_name": member.pipeline,
                }
            }
        )
    header = (
        "# generated from every pipeline's orchestration by dataplatform (doit dags) — "
        "edit the pipelines instead\n"
    )
    return header + yaml.safe_dump({"load_from": locations}, sort_keys=False)


def _sync(directory: Path, files: dict[str, str], inputs: dict[str, str]) -> generated.SyncResult:
    if files:
        return generated.sync(directory, files, inputs, GENERATOR)
    return generated.SyncResult(removed=generated.remove(directory))


def _remove_left_caches(dags_dir: Path, members: set[str]) -> None:
    """A pipeline gone from the folder leaves the `__pycache__` Airflow wrote beside its
    files: remove such folders that hold nothing else."""
    if not dags_dir.is_dir():
        return
    for child in dags_dir.iterdir():
        if (
            child.is_dir()
            and child.name not in members
            and {p.name for p in child.iterdir()} <= {"__pycache__"}
        ):
            shutil.rmtree(child)


def assemble(project: Project, members: list[Member]) -> str:
    problems = duplicate_ids(project, members)
    if problems:
        raise UserError("\n".join(problems))
    airflow = [m for m in members if m.engine == "airflow"]
    dagster = [m for m in members if m.engine == "dagster"]
    files: dict[str, str] = {}
    for member in airflow:
        files.update(_airflow_files(member))
    inputs = {
        m.pipeline: generated.file_digest(layout.validation_result(m.directory)) for m in members
    }
    dags = _sync(project.dags_dir, files, inputs)
    _remove_left_caches(project.dags_dir, {m.pipeline for m in airflow})
    workspace_files = {layout.WORKSPACE: _workspace(project, dagster)} if dagster else {}
    workspace = _sync(project.dagster_workspace_dir, workspace_files, inputs)
    return (
        f"dags folder: {len(airflow)} pipelines, {dags.summary()}; dagster workspace: "
        f"{len(dagster)} locations, {workspace.summary()}"
    )
