"""doit tasks of orchestration, per pipeline with an `orchestration:` section:

- `orchestration:<p>` renders its Airflow DAG or Dagster definitions (with the dbt manifest and
  profile beside them) when `pipeline.yaml`, the repo-wide settings, the templates or the
  manifest changed;
- `validate:<p>` loads those and the hand-written files in a real Airflow/Dagster (the managed
  environment of the configured lock) and checks the team's policies; it re-runs only when one
  of those files, the lock or the settings changed;
- `dags` assembles the platform's dags folder and Dagster workspace from every validated
  pipeline, refusing a dag_id two pipelines share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build import inputs as declared
from dataplatform.build.actions import action
from dataplatform.build.console import say
from dataplatform.build.meaning import Remembered
from dataplatform.dbt import layout as dbt_layout
from dataplatform.errors import UserError
from dataplatform.orchestration import layout
from dataplatform.project import PIPELINE_FILE as MANIFEST
from dataplatform.project import Project
from dataplatform.warehouse import layout as warehouse_layout

if TYPE_CHECKING:  # the catalog is loaded by the Loader, not on the load cache's path
    from dataplatform.catalog import Catalog
    from dataplatform.pipelines.manifest import Pipeline

GENERATE = "orchestration"
VALIDATE = "validate"
ASSEMBLE = "dags"


def _has_warehouse(pipeline: Pipeline) -> bool:
    """Whether the pipeline has warehouse DDL to deploy before its run (CDC replicas or
    declared tables, in `generated/warehouse/`)."""
    return warehouse_layout.has_warehouse(
        pipeline.directory, pipeline.has_warehouse_section, pipeline.has_cdc_section
    )


class Generate:
    def __init__(self, catalog: Catalog, pipeline: Pipeline, inputs: list[Path]):
        self.project = catalog.project
        self.pipeline = pipeline
        self.inputs = inputs

    def __call__(self) -> None:
        from dataplatform.orchestration import generate

        spec = self.pipeline.orchestration
        assert spec is not None
        result = generate.generate(
            self.project,
            self.pipeline.name,
            self.pipeline.description,
            spec,
            _has_warehouse(self.pipeline),
            self.inputs,
        )
        say(f"   {GENERATE}:{self.pipeline.name}: {result.summary()}")
        return None


class OutputsIntact:
    """No generated orchestration file was edited or deleted since."""

    def __init__(self, pipeline_dir: Path):
        self.directory = layout.output_dir(pipeline_dir)

    def __call__(self) -> bool:
        return generated.intact(self.directory)


class Validate:
    def __init__(self, catalog: Catalog, pipeline: Pipeline, dag_files: list[Path]):
        self.project = catalog.project
        self.settings = catalog.orchestration
        self.pipeline = pipeline
        self.dag_files = dag_files

    def __call__(self) -> None:
        from dataplatform.orchestration import validate

        spec = self.pipeline.orchestration
        assert spec is not None
        name = f"{VALIDATE}:{self.pipeline.name}"
        manifest_file = self.project.relative(self.pipeline.directory / MANIFEST)
        generated_dir = layout.output_dir(self.pipeline.directory)
        generated_from = {
            p: f"{manifest_file} (orchestration)"
            for p in self.dag_files
            if p.parent == generated_dir
        }
        result = validate.validate(
            self.project,
            self.settings,
            spec.engine,
            self.dag_files,
            generated_from,
            lambda line: say(f"   {name}: {line}"),
        )
        if result.problems:
            count = len(result.problems)
            raise UserError(
                "\n".join(
                    [
                        f"{count} problem{'s' if count > 1 else ''}",
                        *(f"    {p}" for p in result.problems),
                    ]
                )
            )
        validate.write_result(layout.validation_result(self.pipeline.directory), result)
        say(f"   {name}: {result.summary()}")
        return None


class Assemble:
    def __init__(self, project: Project, members: list[layout.Member]):
        self.project = project
        self.members = members

    def __call__(self) -> None:
        from dataplatform.orchestration import assemble

        summary = assemble.assemble(self.project, self.members)
        say(f"   {ASSEMBLE}: {summary}")
        return None


class AssembledIntact:
    """The dags folder and workspace hold what the last assembly wrote (or nothing, when no
    pipeline uses that engine)."""

    def __init__(self, project: Project, members: list[layout.Member]):
        self.folders = [
            (project.dags_dir, any(m.engine == "airflow" for m in members)),
            (project.dagster_workspace_dir, any(m.engine == "dagster" for m in members)),
        ]

    def __call__(self) -> bool:
        for folder, used in self.folders:
            present = (folder / generated.MANIFEST).exists()
            if used != present or (used and not generated.intact(folder)):
                return False
        return True


def orchestration_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    project = catalog.project
    settings_file = project.orchestration_settings_file
    shared_inputs = [p for p in (settings_file, *layout.templates(project)) if p.exists()]
    yield {
        "basename": GENERATE,
        "name": None,
        "doc": "Airflow DAGs / Dagster definitions generated from pipeline.yaml",
    }
    yield {
        "basename": VALIDATE,
        "name": None,
        "doc": "orchestration loaded in a real Airflow/Dagster and held to the policies",
    }
    members: list[layout.Member] = []
    assembled_inputs: list[str] = []
    for pipeline in catalog.pipelines:
        spec = pipeline.orchestration
        if spec is None:
            continue
        out = layout.output_dir(pipeline.directory)
        names = layout.generated_names(
            pipeline.name, pipeline.directory, spec, _has_warehouse(pipeline)
        )
        inputs = [pipeline.directory / MANIFEST, *shared_inputs]
        if layout.MANIFEST_NAME in names:
            inputs += [
                dbt_layout.manifest(pipeline.directory),
                dbt_layout.dbt_dir(pipeline.directory) / dbt_layout.PROJECT_FILE,
            ]
        targets = [out / n for n in names]
        yield declared.declare(
            {
                "basename": GENERATE,
                "name": pipeline.name,
                "doc": f"{spec.engine} orchestration of {pipeline.name}",
                "actions": [action(Generate(catalog, pipeline, inputs))],
                "file_dep": [str(p) for p in inputs],
                "targets": [str(t) for t in targets],
                "uptodate": [
                    config_changed(layout.GENERATOR),
                    Remembered("intact", OutputsIntact(pipeline.directory)),
                ],
                "verbosity": 2,
            },
            pipeline=pipeline.name,
            trees=[project.root / layout.TEMPLATES],
        )
        hand_written = layout.hand_written_files(pipeline.directory)
        entry_points = [t for t in targets if t.suffix == ".py"]
        dag_files = entry_points + [p for p in hand_written if not layout.is_helper(p)]
        lock = catalog.orchestration.locks[spec.engine]
        validation_inputs = [*targets, *hand_written, lock, layout.CHECKER]
        if settings_file.exists():
            validation_inputs.append(settings_file)
        result = layout.validation_result(pipeline.directory)
        yield declared.declare(
            {
                "basename": VALIDATE,
                "name": pipeline.name,
                "doc": f"{pipeline.name}'s {spec.engine} files loaded and checked",
                "actions": [action(Validate(catalog, pipeline, dag_files))],
                "file_dep": [str(p) for p in validation_inputs],
                "targets": [str(result)],
                "uptodate": [config_changed({"engine": spec.engine, "lock": str(lock)})],
                "verbosity": 2,
            },
            pipeline=pipeline.name,
            trees=[layout.hand_written_dir(pipeline.directory)],
        )
        members.append(layout.Member(pipeline.name, spec.engine, pipeline.directory))
        assembled_inputs += [
            str(result),
            *(str(t) for t in targets),
            *(str(p) for p in hand_written),
        ]
    assembled = AssembledIntact(project, members)
    if not members and assembled():
        return  # nothing orchestrated, nothing assembled before: no task at all
    yield {
        "basename": ASSEMBLE,
        "doc": "the platform's Airflow dags folder and Dagster workspace, from every pipeline",
        "actions": [action(Assemble(project, members))],
        "file_dep": assembled_inputs,
        "uptodate": [
            config_changed({"members": [(m.pipeline, m.engine) for m in members]}),
            Remembered("intact", assembled),
        ],
        "verbosity": 2,
    }
