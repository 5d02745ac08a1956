"""What a pipeline may be called, and which names the SQL engines keep for themselves.

A pipeline's name is its folder, its dbt project, the catalog of its DuckDB warehouse
(`build/<name>.duckdb`) and its schema on PostgreSQL; a CDC `target_schema` is a schema in both.
`sql_name_problem` is the one rule for names DuckDB or PostgreSQL reserve: `check_pipeline_name`
applies it to new pipelines, the manifest loader to hand-made ones, and the CDC loader, through
`landing_schema_problem`, to schemas (which also may not be the pipeline's own name: that is
the DuckDB catalog; `default_landing_schema` is the CDC schema when none is given).
"""

from __future__ import annotations

import re

from dataplatform.errors import UserError

PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED = {"shared"}
# DuckDB's built-in catalogs (`system`, `temp`, and `memory`, its in-memory database) and
# schemas (`main`, where dbt builds models, `information_schema`, `pg_catalog`): a file named
# after one gets another catalog name, and a schema named after one is ambiguous or refused.
DUCKDB_RESERVED = ("main", "system", "temp", "memory", "information_schema", "pg_catalog")
# PostgreSQL refuses `CREATE SCHEMA pg_…` and owns information_schema.
POSTGRES_RESERVED_PREFIX = "pg_"
# dbt's own packages: a project of the same name makes every dbt command fail.
DBT_RESERVED = ("dbt", "dbt_duckdb", "dbt_postgres")


def sql_name_problem(name: str) -> str | None:
    """Why `name` cannot be a DuckDB catalog or a DuckDB/PostgreSQL schema, or None."""
    if name.lower() in DUCKDB_RESERVED:
        return f"{name!r} is reserved by DuckDB ({', '.join(DUCKDB_RESERVED)})"
    if name.lower().startswith(POSTGRES_RESERVED_PREFIX):
        return (
            f"{name!r} starts with {POSTGRES_RESERVED_PREFIX!r}, which PostgreSQL reserves "
            "for system schemas"
        )
    return None


def pipeline_name_problem(name: str) -> str | None:
    """Why an otherwise well-formed `name` cannot name a pipeline's warehouse and dbt project."""
    if name in DBT_RESERVED:
        return f"{name!r} is the name of one of dbt's own packages ({', '.join(DBT_RESERVED)})"
    return sql_name_problem(name)


def check_pipeline_name(name: str) -> None:
    """Raise a one-line UserError unless `name` can be a new pipeline's folder and dbt project."""
    if not name:
        raise UserError("the pipeline name is empty — give one like sales_daily")
    if "/" in name or "\\" in name or ".." in name:
        raise UserError(
            f"pipeline name {name!r} contains a path — give a plain name like sales_daily"
        )
    if name.startswith("_"):
        raise UserError(
            f"pipeline name {name!r} starts with '_', which marks templates — drop the underscore"
        )
    if name in RESERVED:
        raise UserError(
            f"pipeline name {name!r} is reserved for pipelines/{name}/ — choose another"
        )
    if not PIPELINE_NAME.match(name):
        raise UserError(
            f"pipeline name {name!r} is not a lowercase identifier — use a-z, 0-9 "
            "and _, starting with a letter, at most 63 characters"
        )
    problem = pipeline_name_problem(name)
    if problem:
        raise UserError(
            f"pipeline name {problem} — a pipeline's name is also its dbt "
            "project, DuckDB catalog and PostgreSQL schema; choose another"
        )


def default_landing_schema(pipeline: str) -> str:
    """The schema a CDC pipeline's tables land in when `target_schema` is not given."""
    return f"{pipeline}_raw"


def landing_schema_problem(schema: str, pipeline: str) -> str | None:
    """Why `schema` cannot hold `pipeline`'s CDC landing tables, or None."""
    if schema.lower() == pipeline.lower():
        return (
            f"{schema!r} is the pipeline's own name, which is also its DuckDB warehouse's "
            'catalog name: dbt cannot tell the two apart ("Ambiguous reference to catalog '
            f'or schema") — use another, e.g. {default_landing_schema(pipeline)}'
        )
    return sql_name_problem(schema)
