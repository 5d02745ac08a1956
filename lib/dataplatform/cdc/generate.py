"""Render every file of one CDC pipeline and write them into its generated folder.

Everything is rendered and validated in memory first; only then is the folder synced, so bad
input changes nothing and a run never leaves half its files behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataplatform import generated
from dataplatform.cdc import connect, loader, naming, statements
from dataplatform.cdc.model import SHARED, CdcPipeline
from dataplatform.config.yamlsource import load_yaml
from dataplatform.errors import UserError
from dataplatform.project import Project

GENERATOR = "dataplatform.cdc/1"
OUTPUT = Path("generated/cdc")


@dataclass(frozen=True)
class CdcSource:
    """Where a pipeline's `cdc:` section lives: `pipeline.yaml` or `config/cdc.yaml`."""

    pipeline: str
    file: Path
    keypath: tuple[str, ...]


def find_source(directory: Path, manifest_has_cdc: bool) -> CdcSource | None:
    separate = directory / "config" / "cdc.yaml"
    if manifest_has_cdc and separate.exists():
        raise UserError(f"{directory.name}: both pipeline.yaml (cdc:) and config/cdc.yaml define "
                        "CDC — keep one of them")
    if manifest_has_cdc:
        return CdcSource(directory.name, directory / "pipeline.yaml", ("cdc",))
    if separate.exists():
        return CdcSource(directory.name, separate, ())
    return None


def output_dir(project: Project, pipeline: str) -> Path:
    return project.pipelines_dir / pipeline / OUTPUT


def load(project: Project, source: CdcSource) -> CdcPipeline:
    groups_path = project.root / loader.SOURCE_GROUPS
    groups = loader.load_source_groups(project)
    doc = load_yaml(source.file, project.relative(source.file))
    return loader.parse_pipeline(doc, source.keypath, source.pipeline, groups,
                                 project.relative(groups_path))


def render(project: Project, pipeline: CdcPipeline, inputs: list[str]) -> dict[str, str]:
    env = statements.environment(project.root / "templates")
    header = f"generated from {' and '.join(inputs)} — edit those instead"
    files: dict[str, str] = {"ddl/00_schema.sql": statements.schema_ddl(env, pipeline, header)}
    queries, sinks = {}, {}
    for table in pipeline.tables:
        files[f"ddl/10_{naming.label(table.target_table)}.sql"] = statements.table_ddl(
            env, pipeline, table, header)
        queries[table.qualified] = statements.source_query(env, pipeline, table)
        sinks[table.qualified] = statements.sink_statement(env, pipeline, table)
    yaml_header = [header, f"Redpanda Connect >= {connect.TARGET_VERSION}; see README (CDC)."]
    for env_name in pipeline.group.environments:
        for database in pipeline.group.databases:
            if database.env != env_name:
                continue
            name = "source.yaml" if pipeline.group.pattern == SHARED else \
                f"source-{naming.label(database.key)}.yaml"
            config = connect.source_config(pipeline, env_name, database, queries)
            files[f"{env_name}/{name}"] = connect.dump(config, [
                *yaml_header, f"Source: {database.database} on server {database.server.name}"
                f"{f' (tenant {database.tenant})' if database.tenant else ''}, env {env_name}."])
        files[f"{env_name}/sink.yaml"] = connect.dump(
            connect.sink_config(pipeline, env_name, sinks),
            [*yaml_header, f"Sink: every table of {pipeline.name} into PostgreSQL schema "
                           f"{pipeline.target_schema}, env {env_name}."])
    return files


def generate(project: Project, source: CdcSource) -> generated.SyncResult:
    pipeline = load(project, source)
    input_paths = [project.root / loader.SOURCE_GROUPS, source.file]
    displays = [project.relative(p) for p in input_paths]
    files = render(project, pipeline, [displays[1], displays[0]])
    inputs = {project.relative(p): generated.file_digest(p) for p in input_paths if p.exists()}
    return generated.sync(output_dir(project, source.pipeline), files, inputs, GENERATOR)
