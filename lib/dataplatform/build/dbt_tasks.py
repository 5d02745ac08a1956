"""doit tasks `dbt:<pipeline>`: `dbt build` of each pipeline's dbt project, re-run only when
its models, seeds, macros, tests, snapshots, project file, the shared macros or its generated
staging changed (or its warehouse file is gone); and `dbt-manifest:<pipeline>`: `dbt parse` of
each orchestrated pipeline, the manifest its DAG reads, re-run on the same inputs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build.console import say
from dataplatform.catalog import Catalog
from dataplatform.cdc import layout as cdc_layout
from dataplatform.dbt import layout
from dataplatform.errors import UserError
from dataplatform.pipelines.manifest import Pipeline

BASENAME = "dbt"
MANIFEST_BASENAME = "dbt-manifest"
RUNNER_VERSION = "dataplatform.dbt/1"


class DbtBuild:
    def __init__(self, pipeline_dir: Path):
        self.pipeline_dir = pipeline_dir

    def __call__(self) -> TaskFailed | None:
        from dataplatform.dbt import runner  # dbt's helpers load only when a build runs

        name = self.pipeline_dir.name
        try:
            result = runner.build(self.pipeline_dir)
        except UserError as exc:
            return TaskFailed(f"{BASENAME}:{name}: {exc}")
        say(f"   {BASENAME}:{name}: {result.summary}")
        return None


class WarehousePresent:
    """The DuckDB file a build produced is still there (deleting it forces a build)."""

    def __init__(self, pipeline_dir: Path, target: str):
        self.path = layout.warehouse(pipeline_dir)
        self.target = target

    def __call__(self) -> bool:
        return self.target != "duckdb" or self.path.exists()


class DbtParse:
    def __init__(self, pipeline_dir: Path):
        self.pipeline_dir = pipeline_dir

    def __call__(self) -> TaskFailed | None:
        from dataplatform.dbt import runner

        name = self.pipeline_dir.name
        try:
            changed = runner.parse(self.pipeline_dir)
        except UserError as exc:
            return TaskFailed(f"{MANIFEST_BASENAME}:{name}: {exc}")
        say(f"   {MANIFEST_BASENAME}:{name}: "
            f"{'manifest updated' if changed else 'manifest unchanged'}")
        return None


def _clean(pipeline_dir: Path) -> None:
    shutil.rmtree(layout.build_dir(pipeline_dir), ignore_errors=True)


def project_inputs(catalog: Catalog, pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """`file_dep` and `task_dep` of anything that reads the pipeline's whole dbt project."""
    project = catalog.project
    inputs = layout.input_files(project, pipeline.directory)
    task_dep = []
    if cdc_layout.declares_cdc(pipeline.directory, pipeline.has_cdc_section):
        # cdc:<pipeline> writes the staging models first; they are represented by its
        # manifest (a target of that task, changed whenever they are), so the dependency
        # list is the same before and after they first appear
        generated_staging = cdc_layout.dbt_manifest(project, pipeline.name)
        task_dep.append(f"cdc:{pipeline.name}")
        owned = set(generated.listed_files(layout.dbt_dir(pipeline.directory),
                                           generated_staging))
        inputs = [p for p in inputs if p not in owned] + [generated_staging]
    return [str(p) for p in inputs], task_dep


def manifest_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    yield {"basename": MANIFEST_BASENAME, "name": None,
           "doc": "dbt manifest (dbt parse) of each orchestrated pipeline"}
    for pipeline in catalog.pipelines:
        if pipeline.orchestration is None or not layout.dbt_dir(pipeline.directory).is_dir():
            continue
        file_dep, task_dep = project_inputs(catalog, pipeline)
        yield {
            "basename": MANIFEST_BASENAME,
            "name": pipeline.name,
            "doc": f"dbt parse of {pipeline.name}: the manifest its orchestration reads",
            "actions": [DbtParse(pipeline.directory)],
            "file_dep": file_dep,
            "task_dep": task_dep,
            "targets": [str(layout.manifest(pipeline.directory))],
            "uptodate": [config_changed({"runner": RUNNER_VERSION})],
            "verbosity": 2,
        }


def dbt_tasks(catalog: Catalog, target: str) -> Iterator[dict[str, Any]]:
    yield {"basename": BASENAME, "name": None,
           "doc": "dbt build of each pipeline on the embedded DuckDB warehouse"}
    for pipeline in catalog.pipelines:
        if not layout.dbt_dir(pipeline.directory).is_dir():
            continue
        file_dep, task_dep = project_inputs(catalog, pipeline)
        yield {
            "basename": BASENAME,
            "name": pipeline.name,
            "doc": f"dbt build of {pipeline.name} ({target})",
            "actions": [DbtBuild(pipeline.directory)],
            "file_dep": file_dep,
            "task_dep": task_dep,
            "uptodate": [config_changed({"runner": RUNNER_VERSION, "target": target}),
                         WarehousePresent(pipeline.directory, target)],
            "clean": [(_clean, [pipeline.directory])],
            "verbosity": 2,
        }
