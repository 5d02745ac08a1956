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
    def __init__(self, project: Project, pipeline: str):
        self.directory = layout.output_dir(project, pipeline)

    def __call__(self) -> bool:
        return generated.intact(self.directory)


def _remove_stale(project: Project, pipeline: str) -> None:
    removed = generated.remove(layout.output_dir(project, pipeline))
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
            if (layout.output_dir(project, pipeline.name) / generated.MANIFEST).exists():
                yield {"basename": BASENAME, "name": pipeline.name,
                       "actions": [(_remove_stale, [project, pipeline.name])],
                       "doc": f"remove {pipeline.name}'s stale CDC output"}
            continue
        file_dep = [str(p) for p in (groups, source.file, *templates) if p.exists()]
        yield {
            "basename": BASENAME,
            "name": pipeline.name,
            "doc": f"CDC configs and DDL of {pipeline.name}",
            "actions": [GenerateCdc(project, source)],
            "file_dep": file_dep,
            "uptodate": [config_changed(layout.GENERATOR),
                         OutputsIntact(project, pipeline.name)],
            "verbosity": 2,
        }
