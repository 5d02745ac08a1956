"""The SQL a CDC pipeline runs: the T-SQL change query of each source table, and the one
PostgreSQL statement the sink runs per change (an upsert guarded by the change's position; a
delete leaves a tombstone, see `DELETED`). The replica tables themselves are warehouse tables
(`dataplatform.warehouse.render` makes their DDL from `replica_columns` and `key_columns`).
Types come from the records of `types`, the `__cdc_*` columns from `metadata`.

Statements come from the Jinja2 templates under `templates/cdc/`; this module decides their
inputs: quoted identifiers, casts, parameter numbers and the column order the Redpanda Connect
`args_mapping` must follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from dataplatform.cdc import metadata, naming, types
from dataplatform.cdc.model import CdcPipeline, Table

OPERATION_COLUMN = metadata.column(metadata.OPERATION).name
# SQL Server's __$operation codes of the changes a pipeline replicates, and the letter each is
# stored as. The codes also order the changes of one (LSN, sequence value): the source query
# sorts by them, and the sink compares by them.
OPERATIONS = {1: "d", 2: "c", 4: "u"}
# A delete keeps its row as a tombstone: the key, the deleted row's last values, the delete's
# LSN and sequence value, and this operation. The LSN guard then ignores any older change
# replayed later; dbt staging shows only rows whose operation is not this.
DELETED = "d"
CHECKPOINT_TABLE = "_cdc_checkpoint"


def environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def qualified(pipeline: CdcPipeline, table_name: str) -> str:
    return f"{naming.pg_quote(pipeline.target_schema)}.{naming.pg_quote(table_name)}"


def checkpoint_table(pipeline: CdcPipeline) -> str:
    return qualified(pipeline, CHECKPOINT_TABLE)


@dataclass(frozen=True)
class SinkStatement:
    """The sink's statement for one table and the message fields its $n parameters take, in
    order (each a path into the message, e.g. ("after", "Årsak"))."""

    sql: str
    parameters: tuple[tuple[str, ...], ...]


def _target_columns(pipeline: CdcPipeline, table: Table) -> list[dict]:
    columns = []
    if pipeline.adds_tenant_column:
        columns.append(
            {
                "name": pipeline.tenant_column,
                "type": "text",
                "nullable": False,
                "key": True,
                "source": None,
            }
        )
    for column in table.columns:
        columns.append(
            {
                "name": column.name,
                "type": column.target_type,
                "nullable": column.nullable,
                "key": column.name in table.primary_key,
                "source": column,
            }
        )
    return columns


def key_columns(pipeline: CdcPipeline, table: Table) -> list[str]:
    return ([pipeline.tenant_column] if pipeline.adds_tenant_column else []) + list(
        table.primary_key
    )


def replica_columns(pipeline: CdcPipeline, table: Table) -> list[tuple[str, str, bool, str | None]]:
    """Every column of a table's PostgreSQL replica, in order: (name, type, nullable,
    default). The warehouse generator makes the table from these (see `key_columns`)."""
    return [
        (c["name"], c["type"], c["nullable"], None) for c in _target_columns(pipeline, table)
    ] + [(c.name, c.postgres, c.nullable, c.default) for c in metadata.COLUMNS]


def _tenant_filter(pipeline: CdcPipeline, table: Table) -> str | None:
    group = pipeline.group
    if not group.include_tenants:
        return None
    column = table.column(group.tenant_column or "")
    numeric = column.source_type.is_numeric
    values = ", ".join(
        v if numeric and v.lstrip("-").isdigit() else naming.tsql_string(v)
        for v in group.include_tenants
    )
    return f"c.{naming.tsql_quote(column.name)} IN ({values})"


def source_query(env: jinja2.Environment, pipeline: CdcPipeline, table: Table) -> str:
    """T-SQL returning the table's changes after the checkpoint (`?`, an LSN in hex or '')."""
    columns = [
        {
            "expression": types.source_expression(f"c.{naming.tsql_quote(c.name)}", c.source_type),
            "alias": naming.tsql_quote(c.name),
        }
        for c in table.columns
    ]
    return env.get_template("cdc/source_changes.sql.j2").render(
        capture_instance=naming.tsql_string(table.capture_instance),
        function=naming.tsql_quote(f"fn_cdc_get_all_changes_{table.capture_instance}"),
        columns=columns,
        tenant_filter=_tenant_filter(pipeline, table),
    )


def sink_statement(env: jinja2.Environment, pipeline: CdcPipeline, table: Table) -> SinkStatement:
    parameters: list[tuple[str, ...]] = []

    def placeholder(path: tuple[str, ...]) -> str:
        parameters.append(path)
        return f"${len(parameters)}"

    columns = []
    for c in _target_columns(pipeline, table):
        source = c["source"]
        if source is None:
            value = f"CAST({placeholder(('tenant',))} AS text)"
        else:
            value = types.sink_expression(
                placeholder(("after", c["name"])), source.source_type, c["type"]
            )
        columns.append({"sql": naming.pg_quote(c["name"]), "value": value})
    data_columns = [c["sql"] for c in columns]
    written = [naming.pg_quote(m.name) for m in metadata.WRITTEN]
    for m in metadata.WRITTEN:
        value = placeholder((str(m.message_field),))
        columns.append(
            {
                "sql": naming.pg_quote(m.name),
                "value": types.cast_from_message(value, m.travels_as, m.postgres),
            }
        )
    keys = [naming.pg_quote(k) for k in key_columns(pipeline, table)]
    sql = env.get_template("cdc/sink_apply.sql.j2").render(
        table=qualified(pipeline, table.target_table),
        columns=columns,
        key_columns=keys,
        position_columns=[
            naming.pg_quote(metadata.column(role).name)
            for role in (metadata.LSN, metadata.SEQ, metadata.OPERATION)
        ],
        loaded=naming.pg_quote(metadata.column(metadata.LOADED).name),
        operation_order=[(letter, code) for code, letter in sorted(OPERATIONS.items())],
        insert_columns=data_columns + written,
        update_columns=[c for c in data_columns if c not in keys] + written,
    )
    return SinkStatement(sql.strip(), tuple(parameters))
