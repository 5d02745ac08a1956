"""The dbt side of a CDC pipeline's landed tables: a sources file, one staging model per table
(its live rows: the tombstones deletes leave are filtered out), and (for the embedded DuckDB
warehouse) a macro that creates empty landing tables, so the pipeline's dbt project builds
before any data has landed.

Files go into the pipeline's own dbt project (`dbt/models/staging/<source>/`, `dbt/macros/`),
where hand-written files live too; the generator owns only what its manifest lists.
"""

from __future__ import annotations

import re

import yaml

from dataplatform.cdc import metadata, naming, statements
from dataplatform.cdc.model import CdcPipeline, Table
from dataplatform.dbt import keywords
from dataplatform.errors import UserError

LANDING_MACRO = "cdc_landing_tables"
_PRECISION = re.compile(r"^(timestamptz|timestamp|time)\(\d+\)$")


def portable_type(pg_type: str) -> str:
    """A type name PostgreSQL and DuckDB both accept for a cast or a column."""
    match = _PRECISION.match(pg_type)
    if match:
        return match.group(1)
    return {"xml": "text"}.get(pg_type, pg_type)


def duckdb_type(pg_type: str) -> str:
    return {"bytea": "blob", "text": "varchar"}.get(portable_type(pg_type), portable_type(pg_type))


def source_name(pipeline: CdcPipeline) -> str:
    return naming.label(pipeline.target_schema)


def model_name(pipeline: CdcPipeline, table: Table) -> str:
    return f"stg_{source_name(pipeline)}__{naming.label(table.target_table)}"


def staging_column(landed: str) -> str:
    """A landed column's name in staging: snake_case, and never a word a dbt target reserves
    (`User` → `user_`, not `user`, which PostgreSQL reads as the current role), so downstream
    models can write every staging column bare."""
    return keywords.bare_column(naming.snake_case(landed))


def _columns(pipeline: CdcPipeline, table: Table) -> list[tuple[str, str, str, str]]:
    """(landed column, its PostgreSQL type, its DuckDB type, staging name) in table order, the
    staged metadata columns last."""
    columns = []
    if pipeline.adds_tenant_column:
        columns.append(
            (
                pipeline.tenant_column,
                "text",
                duckdb_type("text"),
                staging_column(pipeline.tenant_column),
            )
        )
    columns += [
        (c.name, c.target_type, duckdb_type(c.target_type), staging_column(c.name))
        for c in table.columns
    ]
    columns += [(m.name, m.postgres, m.duckdb, str(m.staging)) for m in metadata.STAGED]
    seen: dict[str, str] = {}
    for landed, _, _, staged in columns:
        if staged in seen:
            raise UserError(
                f"{pipeline.declared_in}: {table.qualified}: columns {seen[staged]!r} "
                f"and {landed!r} both become the staging column {staged!r} — "
                "rename one"
            )
        seen[staged] = landed
    return columns


def staging_model(pipeline: CdcPipeline, table: Table, header: str) -> str:
    """The table's live rows (not the tombstones deletes leave), renamed and cast."""
    operation = naming.pg_quote(statements.OPERATION_COLUMN)
    lines = [
        f"-- {header}",
        "with source as (",
        f"    select * from {{{{ source('{source_name(pipeline)}', '{table.target_table}') }}}}",
        f"    where {operation} is distinct from '{statements.DELETED}'"
        "  -- not a deleted row's tombstone",
        "),",
        "",
        "renamed as (",
        "    select",
    ]
    columns = _columns(pipeline, table)
    for index, (landed, pg_type, _, staged) in enumerate(columns):
        comma = "," if index < len(columns) - 1 else ""
        lines.append(
            f"        cast({naming.pg_quote(landed)} as {portable_type(pg_type)}) "
            f"as {staged}{comma}"
        )
    lines += ["    from source", ")", "", "select * from renamed", ""]
    return "\n".join(lines)


def sources_yaml(pipeline: CdcPipeline, header: str) -> str:
    tables = []
    for table in pipeline.tables:
        keys = statements.key_columns(pipeline, table)
        columns = []
        for landed, pg_type, _, _ in _columns(pipeline, table):
            column: dict = {"name": landed, "data_type": pg_type, "quote": True}
            if landed in keys:
                column["data_tests"] = ["not_null"] + (["unique"] if len(keys) == 1 else [])
            columns.append(column)
        entry: dict = {
            "name": table.target_table,
            "description": f"CDC replica of {table.qualified}",
            "columns": columns,
        }
        if len(keys) > 1:
            entry["data_tests"] = [
                {"unique_combination_of_columns": {"arguments": {"combination_of_columns": keys}}}
            ]
        tables.append(entry)
    document = {
        "version": 2,
        "sources": [
            {
                "name": source_name(pipeline),
                "schema": pipeline.target_schema,
                "description": f"Tables landed by CDC from source group {pipeline.group.name}",
                "config": {
                    "loaded_at_field": metadata.column(metadata.COMMITTED).name,
                    "freshness": {
                        "warn_after": {"count": 1, "period": "hour"},
                        "error_after": {"count": 24, "period": "hour"},
                    },
                },
                "tables": tables,
            }
        ],
    }
    return f"# {header}\n" + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100
    )


def landing_macro(pipeline: CdcPipeline, header: str) -> str:
    """`cdc_landing_tables()`: on DuckDB, empty landing tables shaped like the real ones."""
    schema = naming.pg_quote(pipeline.target_schema)
    statements_sql = [f"create schema if not exists {schema}"]
    for table in pipeline.tables:
        columns = [
            f"{naming.pg_quote(landed)} {duck}" for landed, _, duck, _ in _columns(pipeline, table)
        ]
        columns += [
            f"{naming.pg_quote(m.name)} {m.duckdb}"
            for m in metadata.COLUMNS
            if m not in metadata.STAGED
        ]
        statements_sql.append(
            f"create table if not exists {schema}."
            f"{naming.pg_quote(table.target_table)} ({', '.join(columns)})"
        )
    body = ";\n    ".join(statements_sql)
    return (
        f"{{# {header} #}}\n"
        f"{{% macro {LANDING_MACRO}() %}}\n"
        "  {% if target.type == 'duckdb' %}\n"
        f"    {body};\n"
        "  {% endif %}\n"
        "{% endmacro %}\n"
    )


def render(pipeline: CdcPipeline, header: str) -> dict[str, str]:
    """Files relative to the pipeline's dbt project folder."""
    folder = f"models/staging/{source_name(pipeline)}"
    files = {
        f"{folder}/_{source_name(pipeline)}__sources.yml": sources_yaml(pipeline, header),
        f"macros/_generated_{LANDING_MACRO}.sql": landing_macro(pipeline, header),
    }
    for table in pipeline.tables:
        files[f"{folder}/{model_name(pipeline, table)}.sql"] = staging_model(
            pipeline, table, header
        )
    # Generated files stay out of git; hand-written models in the same folder do not.
    names = sorted(path.rsplit("/", 1)[1] for path in files if path.startswith(folder))
    files[f"{folder}/.gitignore"] = f"# {header}\n/.gitignore\n" + "".join(
        f"/{name}\n" for name in names
    )
    return files
