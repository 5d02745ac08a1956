"""Render every file of one CDC pipeline and write them into its generated folder.

Everything is rendered and validated in memory first; only then is the folder synced, so bad
input changes nothing and a run never leaves half its files behind. A PostgreSQL table another
pipeline already writes (from the relations listing each pipeline generates) is an error too.
"""

from __future__ import annotations

from dataplatform import generated
from dataplatform.cdc import connect, dbt_staging, loader, outputs, statements
from dataplatform.cdc import lint as connect_lint
from dataplatform.cdc.layout import (
    GENERATOR,
    OUTPUT,
    SOURCE_GROUPS,
    CdcSource,
    find_source,
    output_dir,
)
from dataplatform.cdc.layout import dbt_manifest as dbt_manifest_path
from dataplatform.cdc.model import CdcPipeline
from dataplatform.config.yamlsource import YamlDocument, load_yaml
from dataplatform.dbt import layout as dbt_layout
from dataplatform.errors import UserError
from dataplatform.pipelines.manifest import MANIFEST as PIPELINE_MANIFEST
from dataplatform.project import Project

__all__ = ["CdcSource", "find_source", "generate", "load", "output_dir", "render"]


def load(project: Project, source: CdcSource) -> CdcPipeline:
    return _load(project, source)[1]


def _load(project: Project, source: CdcSource) -> tuple[YamlDocument, CdcPipeline]:
    groups = loader.load_source_groups(project)
    doc = load_yaml(source.file, project.relative(source.file))
    return doc, loader.parse_pipeline(doc, source.keypath, source.pipeline, groups)


class OtherPipelines:
    """The PostgreSQL relations other CDC pipelines write, from the listing each generated
    (a pipeline generated later checks against those generated before it)."""

    def __init__(self, project: Project, pipeline: str):
        self.project = project
        self.taken: dict[str, tuple[str, str]] = {}  # relation → (pipeline, source table)
        pattern = f"*/{OUTPUT}/{outputs.RELATIONS_FILE}"
        for listing in sorted(project.pipelines_dir.glob(pattern)):
            other = listing.relative_to(project.pipelines_dir).parts[0]
            if other == pipeline:
                continue
            try:
                text = listing.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for relation, table in outputs.read_relations(text).items():
                self.taken.setdefault(relation, (other, table))

    def holder(self, relation: str) -> str | None:
        """`dbo.T of pipeline p (file:line)` when p writes `relation` now (its listing may be
        from before its last change: it is read again, only for a relation it lists)."""
        if relation not in self.taken:
            return None
        name = self.taken[relation][0]
        directory = self.project.pipelines_dir / name
        try:
            manifest = load_yaml(directory / PIPELINE_MANIFEST).data
            source = find_source(directory, isinstance(manifest, dict) and "cdc" in manifest)
            if source is None:
                return None
            doc, other = _load(self.project, source)
        except UserError:  # it does not load: its own task says why
            return None
        for output, table in outputs.outputs_of_pipeline(other):
            if output.kind == outputs.RELATION and output.key[1] == relation:
                line = doc.line(loader.table_keypath(doc, source.keypath, table))
                return f"{table.qualified} of pipeline {name} ({doc.display}:{line})"
        return None


def render(project: Project, pipeline: CdcPipeline, inputs: list[str]) -> dict[str, str]:
    env = statements.environment(project.root / "templates")
    header = f"generated from {' and '.join(inputs)} — edit those instead"
    files: dict[str, str] = {outputs.RELATIONS_FILE: outputs.relations_listing(pipeline, header)}
    queries, sinks = {}, {}
    for table in pipeline.tables:
        queries[table.qualified] = statements.source_query(env, pipeline, table)
        sinks[table.qualified] = statements.sink_statement(env, pipeline, table)
    yaml_header = [header, f"Redpanda Connect >= {connect.TARGET_VERSION}; see README (CDC)."]
    for env_name in pipeline.group.environments:
        for database in pipeline.group.databases:
            if database.env != env_name:
                continue
            config = connect.source_config(pipeline, env_name, database, queries)
            files[outputs.source_file(pipeline.group, env_name, database)] = connect.dump(
                config,
                [
                    *yaml_header,
                    f"Source: {database.database} on server {database.server.name}"
                    f"{f' (tenant {database.tenant})' if database.tenant else ''}, env {env_name}.",
                ],
            )
        files[outputs.sink_file(env_name)] = connect.dump(
            connect.sink_config(pipeline, env_name, sinks),
            [
                *yaml_header,
                f"Sink: every table of {pipeline.name} into PostgreSQL schema "
                f"{pipeline.target_schema}, env {env_name}.",
            ],
        )
    # A config Redpanda Connect would reject is the generator's bug: fail before any write.
    connect_lint.refuse_findings(files, project.relative(output_dir(project, pipeline.name)))
    return files


def generate(project: Project, source: CdcSource) -> generated.SyncResult:
    """Render and write the CDC configs, and the dbt staging when the pipeline has a dbt
    project; validation and ownership checks all happen before the first write. (The replica
    tables' DDL is the warehouse generator's: `dataplatform.warehouse`.)"""
    doc, pipeline = _load(project, source)
    loader.refuse_relations_of_others(
        doc, source.keypath, pipeline, OtherPipelines(project, source.pipeline).holder
    )
    input_paths = [project.root / SOURCE_GROUPS, source.file]
    displays = [project.relative(p) for p in input_paths]
    files = render(project, pipeline, [displays[1], displays[0]])
    inputs = {project.relative(p): generated.file_digest(p) for p in input_paths if p.exists()}
    pipeline_dir = project.pipelines_dir / source.pipeline
    dbt_dir, dbt_manifest = pipeline_dir / "dbt", dbt_manifest_path(project, source.pipeline)
    header = f"generated from {displays[1]} and {displays[0]} — edit those instead"
    dbt_files = None
    if (dbt_dir / dbt_layout.PROJECT_FILE).is_file():
        dbt_files = dbt_staging.render(pipeline, header)
        generated.assert_owned(dbt_dir, dbt_files, dbt_manifest, project.root)
    result = generated.sync(output_dir(project, source.pipeline), files, inputs, GENERATOR)
    if dbt_files is not None:
        staged = generated.sync(
            dbt_dir,
            dbt_files,
            inputs,
            GENERATOR,
            manifest_path=dbt_manifest,
            shared_with_people=True,
            shown_from=project.root,
        )
        result.written += [f"dbt/{p}" for p in staged.written]
        result.unchanged += staged.unchanged
        result.removed += [f"dbt/{p}" for p in staged.removed]
    elif dbt_manifest.exists():
        result.removed += [f"dbt/{p}" for p in generated.remove(dbt_dir, dbt_manifest)]
    return result
