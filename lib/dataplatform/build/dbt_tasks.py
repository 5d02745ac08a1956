"""doit tasks `dbt:<pipeline>`: `dbt build` of each pipeline's dbt project, re-run only when
its models, seeds, macros, tests, snapshots, project file, the shared macros or its generated
staging changed (or its warehouse file is gone)."""

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

BASENAME = "dbt"
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


def _clean(pipeline_dir: Path) -> None:
    shutil.rmtree(layout.build_dir(pipeline_dir), ignore_errors=True)


def dbt_tasks(catalog: Catalog, target: str) -> Iterator[dict[str, Any]]:
    project = catalog.project
    yield {"basename": BASENAME, "name": None,
           "doc": "dbt build of each pipeline on the embedded DuckDB warehouse"}
    for pipeline in catalog.pipelines:
        if not layout.dbt_dir(pipeline.directory).is_dir():
            continue
        inputs = layout.input_files(project, pipeline.directory)
        generated_staging = cdc_layout.dbt_manifest(project, pipeline.name)
        task_dep = []
        if pipeline.has_cdc_section or (pipeline.directory / "config" / "cdc.yaml").exists():
            # cdc:<pipeline> writes the staging models first; they are represented by its
            # manifest (a target of that task, changed whenever they are), so the dependency
            # list is the same before and after they first appear
            task_dep.append(f"cdc:{pipeline.name}")
            owned = set(generated.listed_files(layout.dbt_dir(pipeline.directory),
                                               generated_staging))
            inputs = [p for p in inputs if p not in owned] + [generated_staging]
        file_dep = [str(p) for p in inputs]
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
