"""doit tasks `cdc:<pipeline>`: generate a CDC pipeline's Redpanda Connect configs and dbt
staging (its PostgreSQL tables are `warehouse:<pipeline>`'s) when its inputs (its cdc section,
the source groups, the templates) changed or a generated file was edited or deleted; remove the
output of pipelines that dropped CDC.

Problems in `platform/cdc/source-groups.yaml` are reported once, by `cdc:source-groups` (a task
that exists only while the file has problems); pipelines of the groups that loaded still
generate, those of a broken group wait for the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from doit.tools import config_changed

from dataplatform import generated
from dataplatform.build import inputs
from dataplatform.build.actions import action, failing
from dataplatform.build.console import say
from dataplatform.build.meaning import Remembered, ValuesSame, YamlSame
from dataplatform.cdc import layout
from dataplatform.dbt import layout as dbt_layout
from dataplatform.errors import UserError
from dataplatform.project import Project

if TYPE_CHECKING:  # the catalog is loaded by the Loader, not on the load cache's path
    from dataplatform.catalog import Catalog


BASENAME = "cdc"
GROUPS_CHECK = "source-groups"  # not a pipeline name: those have no `-`


class GenerateCdc:
    def __init__(self, project: Project, source: layout.CdcSource):
        self.project = project
        self.source = source

    def __call__(self) -> None:
        from dataplatform.cdc import generate  # the renderer loads only when it must run

        result = generate.generate(self.project, self.source)
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


def _broken_groups(project: Project, catalog: Catalog) -> tuple[set[str] | None, list[UserError]]:
    """The groups with problems (None: the file as a whole is unreadable) and the problems.
    The file is read only when some pipeline declares CDC."""
    path = project.root / layout.SOURCE_GROUPS
    if not path.exists() or not any(
        layout.declares_cdc(p.directory, p.has_cdc_section) for p in catalog.pipelines
    ):
        return set(), []
    # a no-op must not read and validate the file again: the stat signature of the last
    # version found without problems is kept beside the fingerprints
    clean = project.state_dir / "source-groups.clean"
    signature = "{0.st_mtime_ns} {0.st_size}".format(path.stat())
    try:
        if clean.read_text() == signature:
            return set(), []
    except OSError:
        pass
    from dataplatform.cdc import loader

    found = loader.load_source_groups(project)
    problems = list(found.all_problems())
    if not problems:
        try:
            clean.parent.mkdir(parents=True, exist_ok=True)
            clean.write_text(signature)
        except OSError:
            pass  # a read-only checkout validates every time
    return (None if found.file_problem else set(found.problems)), problems


def cdc_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    project = catalog.project
    yield {
        "basename": BASENAME,
        "name": None,
        "doc": "Redpanda Connect configs and dbt staging of CDC pipelines",
    }
    groups = project.root / layout.SOURCE_GROUPS
    templates = sorted((project.root / "templates" / "cdc").glob("*.j2"))
    broken, problems = _broken_groups(project, catalog)
    check = f"{BASENAME}:{GROUPS_CHECK}"
    blocked: list[dict[str, Any]] = []
    for pipeline in catalog.pipelines:
        try:
            source = layout.find_source(pipeline.directory, pipeline.has_cdc_section)
        except UserError as exc:
            yield {"basename": BASENAME, "name": pipeline.name, "actions": [failing(exc)]}
            continue
        if source is None:
            if (
                layout.output_dir(project, pipeline.name) / generated.MANIFEST
            ).exists() or layout.dbt_manifest(project, pipeline.name).exists():
                yield {
                    "basename": BASENAME,
                    "name": pipeline.name,
                    "actions": [action(_remove_stale, project, pipeline.name)],
                    "doc": f"remove {pipeline.name}'s stale CDC output",
                }
            continue
        # staging goes into the pipeline's dbt project
        dbt_project = dbt_layout.dbt_dir(pipeline.directory) / dbt_layout.PROJECT_FILE
        # the source groups count by the value of the pipeline's group (a comment or another
        # group's tenant is no change), the rest by content
        group = [(groups, ("groups", inputs.ref(source.file, (*source.keypath, "source_group"))))]
        file_dep = [str(p) for p in templates]
        yaml_inputs = [p for p in (source.file, dbt_project) if p.exists()]
        task = {
            "basename": BASENAME,
            "name": pipeline.name,
            "doc": f"CDC configs of {pipeline.name}",
            "actions": [action(GenerateCdc(project, source))],
            "file_dep": file_dep,
            "targets": [str(layout.dbt_manifest(project, pipeline.name))]
            if dbt_project.exists()
            else [],
            "uptodate": [
                config_changed(layout.GENERATOR),
                Remembered("intact", OutputsIntact(project, pipeline.name)),
                ValuesSame(group),
                YamlSame(yaml_inputs, project.root),
            ],
            "verbosity": 2,
        }
        inputs.declare(
            task,
            pipeline=pipeline.name,
            files=[groups, source.file, dbt_project],
            trees=[project.root / "templates" / "cdc"],
            values=group,
        )
        if problems and _reads_broken_group(project, source, broken):
            blocked.append({**task, "task_dep": [check]})
        else:
            yield task
    if problems:
        # Pipelines of valid groups come first and still generate; then the file's problems
        # fail once, as `cdc:source-groups`; the pipelines of broken groups depend on that
        # task, so they never run on a group that did not load, nor repeat its error.
        yield {
            "basename": BASENAME,
            "name": GROUPS_CHECK,
            "doc": f"{layout.SOURCE_GROUPS}",
            # every problem of the file, reported once, against the file
            "actions": [failing(UserError("\n".join(str(p) for p in problems)))],
            "verbosity": 2,
        }
        yield from blocked


def _reads_broken_group(
    project: Project, source: layout.CdcSource, broken: set[str] | None
) -> bool:
    if broken is None:
        return True
    from dataplatform.cdc import loader

    return loader.declared_group(project, source) in broken
