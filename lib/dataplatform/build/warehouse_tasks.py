"""doit tasks `warehouse:<pipeline>`: generate a pipeline's warehouse SQL and `objects.json`
(the deployer's input) when its inputs (the `warehouse:` section or `config/tables.yaml`, its
CDC section and the source groups, the templates) changed or a generated file was edited or
deleted; remove the output of a pipeline that no longer has warehouse tables.

A CDC pipeline's task runs after `cdc:<pipeline>`, so a problem in the CDC section is
reported once, by that task. Files whose content did not change keep their mtime: nothing
downstream re-runs for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build import inputs as declared
from dataplatform.build.actions import action, failing
from dataplatform.build.console import say
from dataplatform.build.meaning import Remembered, ValuesSame, YamlSame
from dataplatform.cdc import layout as cdc_layout
from dataplatform.errors import UserError
from dataplatform.project import Project
from dataplatform.warehouse import layout
from dataplatform.warehouse.objects import OBJECTS_FILE

if TYPE_CHECKING:  # the catalog is loaded by the Loader, not on the load cache's path
    from dataplatform.catalog import Catalog


BASENAME = "warehouse"


class GenerateWarehouse:
    def __init__(self, project: Project, inputs: layout.Inputs):
        self.project = project
        self.inputs = inputs

    def __call__(self) -> None:
        from dataplatform.warehouse import generate  # Jinja loads only when it must run

        result = generate.generate(self.project, self.inputs)
        say(f"   {BASENAME}:{self.inputs.pipeline}: {result.summary()}")
        return None


class OutputsIntact:
    """No generated warehouse file was edited or deleted since."""

    def __init__(self, project: Project, pipeline: str):
        self.directory = layout.output_dir(project, pipeline)

    def __call__(self) -> bool:
        return generated.intact(self.directory)


def _remove_stale(project: Project, pipeline: str) -> None:
    removed = generated.remove(layout.output_dir(project, pipeline))
    say(
        f"   {BASENAME}:{pipeline}: no warehouse tables any more, removed {len(removed)} "
        "generated files"
    )


def warehouse_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    project = catalog.project
    yield {
        "basename": BASENAME,
        "name": None,
        "doc": "PostgreSQL DDL of each pipeline's warehouse tables (declared and CDC)",
    }
    templates = [str(p) for p in layout.templates(project)]
    for pipeline in catalog.pipelines:
        directory = pipeline.directory
        task_dep = (
            [f"cdc:{pipeline.name}"]
            if cdc_layout.declares_cdc(directory, pipeline.has_cdc_section)
            else []
        )
        if not layout.has_warehouse(
            directory, pipeline.has_warehouse_section, pipeline.has_cdc_section
        ):
            if (layout.output_dir(project, pipeline.name) / generated.MANIFEST).exists():
                yield {
                    "basename": BASENAME,
                    "name": pipeline.name,
                    "actions": [action(_remove_stale, project, pipeline.name)],
                    "doc": f"remove {pipeline.name}'s stale warehouse output",
                }
            continue
        try:
            inputs = layout.inputs_of(
                directory, pipeline.has_warehouse_section, pipeline.has_cdc_section
            )
        except UserError as exc:  # the CDC section twice: cdc:<p> says so first
            yield {
                "basename": BASENAME,
                "name": pipeline.name,
                "task_dep": task_dep,
                "actions": [failing(exc)],
            }
            continue
        groups = project.root / cdc_layout.SOURCE_GROUPS
        # the source groups count by the value of the pipeline's group, the rest by content
        values = (
            [
                (
                    groups,
                    (
                        "groups",
                        declared.ref(inputs.cdc.file, (*inputs.cdc.keypath, "source_group")),
                    ),
                )
            ]
            if inputs.cdc
            else []
        )
        yaml_inputs = [p for p in inputs.files(project) if p.exists() and p != groups]
        yield declared.declare(
            {
                "basename": BASENAME,
                "name": pipeline.name,
                "doc": f"warehouse DDL of {pipeline.name}",
                "actions": [action(GenerateWarehouse(project, inputs))],
                "file_dep": templates,
                "task_dep": task_dep,
                "targets": [str(layout.output_dir(project, pipeline.name) / OBJECTS_FILE)],
                "uptodate": [
                    config_changed(layout.GENERATOR),
                    Remembered("intact", OutputsIntact(project, pipeline.name)),
                    YamlSame(yaml_inputs, project.root),
                    *([ValuesSame(values)] if values else []),
                ],
                "verbosity": 2,
            },
            pipeline=pipeline.name,
            files=inputs.files(project),
            trees=[project.root / layout.TEMPLATES],
            values=values,
        )
