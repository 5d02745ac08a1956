"""doit tasks `cdc:<pipeline>`: generate a CDC pipeline's Redpanda Connect configs and dbt
staging (its PostgreSQL tables are `warehouse:<pipeline>`'s) when its inputs (its cdc section,
the source groups, the templates) changed or a generated file was edited or deleted; remove the
output of pipelines that dropped CDC.

Problems in `platform/cdc/source-groups.yaml` are reported once, by `cdc:source-groups` (a task
that exists only while the file has problems); pipelines of the groups that loaded still
generate, those of a broken group wait for the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build import inputs
from dataplatform.build.console import say
from dataplatform.build.meaning import ValuesSame, YamlSame
from dataplatform.catalog import Catalog
from dataplatform.cdc import layout
from dataplatform.dbt import layout as dbt_layout
from dataplatform.errors import UserError
from dataplatform.project import Project

BASENAME = "cdc"
GROUPS_CHECK = "source-groups"  # not a pipeline name: those have no `-`


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
    """No generated file (configs, dbt staging) was edited or deleted since."""

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


class SourceGroupsProblems:
    """Fails with every problem of the source-groups file: reported once, against the file."""

    def __init__(self, problems: list[UserError]):
        self.message = "\n".join(str(p) for p in problems)

    def __call__(self) -> TaskFailed:
        return TaskFailed(self.message)


def _broken_groups(project: Project, catalog: Catalog) -> tuple[set[str] | None, list[UserError]]:
    """The groups with problems (None: the file as a whole is unreadable) and the problems.
    The file is read only when some pipeline declares CDC."""
    if not (project.root / layout.SOURCE_GROUPS).exists() or not any(
            layout.declares_cdc(p.directory, p.has_cdc_section) for p in catalog.pipelines):
        return set(), []
    from dataplatform.cdc import loader

    found = loader.load_source_groups(project)
    return (None if found.file_problem else set(found.problems)), list(found.all_problems())


def cdc_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    project = catalog.project
    yield {"basename": BASENAME, "name": None,
           "doc": "Redpanda Connect configs and dbt staging of CDC pipelines"}
    groups = project.root / layout.SOURCE_GROUPS
    templates = sorted((project.root / "templates" / "cdc").glob("*.j2"))
    broken, problems = _broken_groups(project, catalog)
    check = f"{BASENAME}:{GROUPS_CHECK}"
    blocked: list[dict[str, Any]] = []
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
        # staging goes into the pipeline's dbt project
        dbt_project = dbt_layout.dbt_dir(pipeline.directory) / dbt_layout.PROJECT_FILE
        # the source groups count by the value of the pipeline's group (a comment or another
        # group's tenant is no change), the rest by content
        group = [(groups, ("groups", inputs.ref(source.file,
                                                (*source.keypath, "source_group"))))]
        file_dep = [str(p) for p in templates]
        yaml_inputs = [p for p in (source.file, dbt_project) if p.exists()]
        task = {
            "basename": BASENAME,
            "name": pipeline.name,
            "doc": f"CDC configs of {pipeline.name}",
            "actions": [GenerateCdc(project, source)],
            "file_dep": file_dep,
            "targets": [str(layout.dbt_manifest(project, pipeline.name))]
            if dbt_project.exists() else [],
            "uptodate": [config_changed(layout.GENERATOR),
                         OutputsIntact(project, pipeline.name), ValuesSame(group),
                         YamlSame(yaml_inputs, project.root)],
            "verbosity": 2,
        }
        inputs.declare(task, pipeline=pipeline.name, files=[groups, source.file, dbt_project],
                       trees=[project.root / "templates" / "cdc"],
                       values=group)
        if problems and _reads_broken_group(project, source, broken):
            blocked.append({**task, "task_dep": [check]})
        else:
            yield task
    if problems:
        # Pipelines of valid groups come first and still generate; then the file's problems
        # fail once, as `cdc:source-groups`; the pipelines of broken groups depend on that
        # task, so they never run on a group that did not load, nor repeat its error.
        yield {"basename": BASENAME, "name": GROUPS_CHECK, "doc": f"{layout.SOURCE_GROUPS}",
               "actions": [SourceGroupsProblems(problems)], "verbosity": 2}
        yield from blocked


def _reads_broken_group(project: Project, source: layout.CdcSource,
                        broken: set[str] | None) -> bool:
    if broken is None:
        return True
    from dataplatform.cdc import loader

    return loader.declared_group(project, source) in broken
