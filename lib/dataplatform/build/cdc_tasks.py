"""doit tasks `cdc:<pipeline>`: generate a CDC pipeline's Redpanda Connect configs and
PostgreSQL DDL when its inputs (its cdc section, the source groups, the templates) changed or a
generated file was edited or deleted; remove the output of pipelines that dropped CDC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build.console import say
from dataplatform.catalog import Catalog
from dataplatform.cdc import layout
from dataplatform.errors import UserError
from dataplatform.project import Project

BASENAME = "cdc"


class GenerateCdc:
    def __init__(self, project: Project, source: layout.CdcSource):
        self.project = project
        self.source = source

    def __call__(self) -> TaskFailed | None:
        from dataplatform.cdc import generate  # the renderer loads only when it must run

        try:
            result = generate.generate(self.project, self.source)
        except UserError as exc:
            return TaskFailed(str(exc))
        say(f"   {BASENAME}:{self.source.pipeline}: {result.summary()}")
        return None


class OutputsIntact:
    """No generated file (configs, DDL, dbt staging) was edited or deleted since."""

    def __init__(self, project: Project, pipeline: str):
        self.directory = layout.output_dir(project, pipeline)
        self.dbt_dir = project.pipelines_dir / pipeline / "dbt"
        self.dbt_manifest = layout.dbt_manifest(project, pipeline)

    def __call__(self) -> bool:
        if not generated.intact(self.directory):
            return False
        return not self.dbt_manifest.exists() or generated.intact(self.dbt_dir, self.dbt_manifest)


def _remove_stale(project: Project, pipeline: str) -> None:
    removed = generated.remove(layout.output_dir(project, pipeline))
    manifest = layout.dbt_manifest(project, pipeline)
    if manifest.exists():
        removed += generated.remove(project.pipelines_dir / pipeline / "dbt", manifest)
    say(f"   {BASENAME}:{pipeline}: CDC section gone, removed {len(removed)} generated files")


def cdc_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    project = catalog.project
    yield {"basename": BASENAME, "name": None,
           "doc": "Redpanda Connect configs and PostgreSQL DDL of CDC pipelines"}
    groups = project.root / layout.SOURCE_GROUPS
    templates = sorted((project.root / "templates" / "cdc").glob("*.j2"))
    for pipeline in catalog.pipelines:
        try:
            source = layout.find_source(pipeline.directory, pipeline.has_cdc_section)
        except UserError as exc:
            yield {"basename": BASENAME, "name": pipeline.name,
                   "actions": [lambda message=str(exc): TaskFailed(message)]}
            continue
        if source is None:
            if (layout.output_dir(project, pipeline.name) / generated.MANIFEST).exists() or \
                    layout.dbt_manifest(project, pipeline.name).exists():
                yield {"basename": BASENAME, "name": pipeline.name,
                       "actions": [(_remove_stale, [project, pipeline.name])],
                       "doc": f"remove {pipeline.name}'s stale CDC output"}
            continue
        dbt_project = pipeline.directory / "dbt" / "dbt_project.yml"  # staging goes there
        file_dep = [str(p) for p in (groups, source.file, dbt_project, *templates)
                    if p.exists()]
        yield {
            "basename": BASENAME,
            "name": pipeline.name,
            "doc": f"CDC configs and DDL of {pipeline.name}",
            "actions": [GenerateCdc(project, source)],
            "file_dep": file_dep,
            "targets": [str(layout.dbt_manifest(project, pipeline.name))]
            if dbt_project.exists() else [],
            "uptodate": [config_changed(layout.GENERATOR),
                         OutputsIntact(project, pipeline.name)],
            "verbosity": 2,
        }
