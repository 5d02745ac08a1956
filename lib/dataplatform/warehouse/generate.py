"""Generate one pipeline's warehouse folder: read its declared tables and its CDC tables, build
every object in memory (all validation first, so bad input writes nothing), then sync
`pipelines/<p>/generated/warehouse/` to exactly `objects.json` and one `.sql` per object."""

from __future__ import annotations

from dataplatform import generated
from dataplatform.config.yamlsource import load_yaml
from dataplatform.project import Project
from dataplatform.warehouse import layout, render, spec
from dataplatform.warehouse.objects import OBJECTS_FILE, PipelineObjects


def build(project: Project, inputs: layout.Inputs) -> PipelineObjects:
    tables: list[render.Table] = []
    default_schema = inputs.pipeline
    if inputs.cdc:
        from dataplatform.cdc import loader

        groups = loader.load_source_groups(project)
        doc = load_yaml(inputs.cdc.file, project.relative(inputs.cdc.file))
        cdc = loader.parse_pipeline(doc, inputs.cdc.keypath, inputs.cdc.pipeline, groups)
        lines = {
            t.qualified: doc.line(loader.table_keypath(doc, inputs.cdc.keypath, t))
            for t in cdc.tables
        }
        tables += render.cdc_tables(cdc, lines)
        default_schema = cdc.target_schema
    if inputs.tables:
        declared = spec.load(project, inputs.tables, default_schema)
        tables += render.declared_tables(declared)
    return render.build(inputs.pipeline, tables, project.root)


def render_files(project: Project, inputs: layout.Inputs) -> dict[str, str]:
    objects = build(project, inputs)
    files = render.sql_files(objects)
    files[OBJECTS_FILE] = objects.to_json()
    return files


def generate(project: Project, inputs: layout.Inputs) -> generated.SyncResult:
    files = render_files(project, inputs)
    digests = {
        project.relative(p): generated.file_digest(p) for p in inputs.files(project) if p.exists()
    }
    return generated.sync(
        layout.output_dir(project, inputs.pipeline), files, digests, layout.GENERATOR
    )
