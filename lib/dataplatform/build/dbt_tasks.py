"""doit tasks `dbt:<pipeline>`: `dbt build` of each pipeline's dbt project, re-run only when
its models, seeds, macros, tests, snapshots, project file, the shared macros or its generated
staging changed (or its warehouse file is gone); and `dbt-manifest:<pipeline>`: `dbt parse` of
each orchestrated pipeline, the manifest its DAG reads, re-run on the same inputs.

What "changed" means is content: a YAML input (dbt_project.yml, schema files) counts by what
it parses to, so a comment is no change, and generated CDC staging counts by the generated
files' digests, not by its manifest's bytes (which also record the CDC config's digests, and
so change with a comment there).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build import inputs
from dataplatform.build.actions import action
from dataplatform.build.console import say
from dataplatform.build.meaning import SameMeaning
from dataplatform.cdc import layout as cdc_layout
from dataplatform.dbt import layout

if TYPE_CHECKING:  # the catalog is loaded by the Loader, not on the load cache's path
    from dataplatform.catalog import Catalog
    from dataplatform.pipelines.manifest import Pipeline

BASENAME = "dbt"
MANIFEST_BASENAME = "dbt-manifest"
RUNNER_VERSION = "dataplatform.dbt/1"


class DbtBuild:
    def __init__(self, pipeline_dir: Path):
        self.pipeline_dir = pipeline_dir

    def __call__(self) -> None:
        from dataplatform.dbt import runner  # dbt's helpers load only when a build runs

        name = self.pipeline_dir.name
        result = runner.build(self.pipeline_dir)
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

    def __call__(self) -> None:
        from dataplatform.dbt import runner

        name = self.pipeline_dir.name
        changed = runner.parse(self.pipeline_dir)
        say(
            f"   {MANIFEST_BASENAME}:{name}: "
            f"{'manifest updated' if changed else 'manifest unchanged'}"
        )
        return None


YAML_SUFFIXES = (".yml", ".yaml")


def _yaml_meaning(path: Path) -> str:
    """What a YAML file says (its parsed data), else its bytes' digest (dbt reports the rest)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_bytes())
        return json.dumps(data, sort_keys=True, default=str)
    except (OSError, yaml.YAMLError, ValueError):
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return "missing"


class InputsSaySame(SameMeaning):
    """Up to date while the YAML inputs parse to what they did at the last successful run and
    the generated CDC staging files hold what they held then. Evaluated when the task is due,
    after `cdc:<pipeline>` ran, like doit's config_changed; a no-op only stats the files."""

    KEY = "dbt-inputs"

    def __init__(self, yaml_files: list[Path], staging_manifest: Path | None, root: Path):
        self.yaml_files = yaml_files
        self.staging_manifest = staging_manifest
        self.root = root
        paths = [*yaml_files, *([staging_manifest] if staging_manifest else [])]
        super().__init__(self.KEY, paths, self.meaning_now)

    def meaning_now(self) -> dict[str, object]:
        meaning: dict[str, object] = {
            path.relative_to(self.root).as_posix()
            if path.is_relative_to(self.root)
            else str(path): _yaml_meaning(path)
            for path in self.yaml_files
        }
        if self.staging_manifest is not None:
            files = generated.read_manifest(
                self.staging_manifest.parent, self.staging_manifest
            ).get("files", {})
            meaning["generated staging"] = {
                relpath: entry.get("sha256") for relpath, entry in sorted(files.items())
            }
        return meaning


def _clean(pipeline_dir: Path) -> None:
    shutil.rmtree(layout.build_dir(pipeline_dir), ignore_errors=True)


def project_inputs(
    catalog: Catalog, pipeline: Pipeline
) -> tuple[list[str], list[str], list[Callable[..., bool]]]:
    """`file_dep`, `task_dep` and `uptodate` checks of anything that reads the pipeline's whole
    dbt project."""
    project = catalog.project
    inputs = layout.input_files(project, pipeline.directory)
    task_dep = []
    staging_manifest = None
    if cdc_layout.declares_cdc(pipeline.directory, pipeline.has_cdc_section):
        # cdc:<pipeline> writes the staging models first; they are represented by the digests
        # its manifest lists, so the dependency list is the same before and after they first
        # appear
        staging_manifest = cdc_layout.dbt_manifest(project, pipeline.name)
        task_dep.append(f"cdc:{pipeline.name}")
        owned = set(generated.listed_files(layout.dbt_dir(pipeline.directory), staging_manifest))
        inputs = [p for p in inputs if p not in owned]
    yaml_files = [p for p in inputs if p.suffix in YAML_SUFFIXES]
    file_dep = [str(p) for p in inputs if p.suffix not in YAML_SUFFIXES]
    return file_dep, task_dep, [InputsSaySame(yaml_files, staging_manifest, project.root)]


def declared_inputs(catalog: Catalog, pipeline: Pipeline) -> dict[str, Any]:
    """What `inputs.declare` records for a task reading the whole dbt project: the YAML files
    InputsSaySame reads and the folders where any file (a new model, a deleted macro) counts."""
    root = layout.dbt_dir(pipeline.directory)
    return {
        "pipeline": pipeline.name,
        "files": [root / name for name in layout.INPUT_FILES],
        "trees": [
            *(root / name for name in layout.INPUT_DIRS),
            catalog.project.root / layout.SHARED_MACROS,
        ],
    }


def manifest_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    yield {
        "basename": MANIFEST_BASENAME,
        "name": None,
        "doc": "dbt manifest (dbt parse) of each orchestrated pipeline",
    }
    for pipeline in catalog.pipelines:
        if pipeline.orchestration is None or not layout.dbt_dir(pipeline.directory).is_dir():
            continue
        file_dep, task_dep, checks = project_inputs(catalog, pipeline)
        yield inputs.declare(
            {
                "basename": MANIFEST_BASENAME,
                "name": pipeline.name,
                "doc": f"dbt parse of {pipeline.name}: the manifest its orchestration reads",
                "actions": [action(DbtParse(pipeline.directory))],
                "file_dep": file_dep,
                "task_dep": task_dep,
                "targets": [str(layout.manifest(pipeline.directory))],
                "uptodate": [config_changed({"runner": RUNNER_VERSION}), *checks],
                "verbosity": 2,
            },
            **declared_inputs(catalog, pipeline),
        )


def dbt_tasks(catalog: Catalog, target: str) -> Iterator[dict[str, Any]]:
    yield {
        "basename": BASENAME,
        "name": None,
        "doc": "dbt build of each pipeline on the embedded DuckDB warehouse",
    }
    for pipeline in catalog.pipelines:
        if not layout.dbt_dir(pipeline.directory).is_dir():
            continue
        file_dep, task_dep, checks = project_inputs(catalog, pipeline)
        yield inputs.declare(
            {
                "basename": BASENAME,
                "name": pipeline.name,
                "doc": f"dbt build of {pipeline.name} ({target})",
                "actions": [action(DbtBuild(pipeline.directory))],
                "file_dep": file_dep,
                "task_dep": task_dep,
                "uptodate": [
                    config_changed({"runner": RUNNER_VERSION, "target": target}),
                    WarehousePresent(pipeline.directory, target),
                    *checks,
                ],
                "clean": [(_clean, [pipeline.directory])],
                "verbosity": 2,
            },
            **declared_inputs(catalog, pipeline),
        )
