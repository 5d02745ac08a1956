"""Turn a pipeline's tables (declared ones and CDC replicas) into `PipelineObjects`: every
schema, table, history table, function and trigger with the exact SQL that creates it, from the
templates under `templates/warehouse/`; and the human-readable `.sql` files beside
`objects.json`.

What each layer gets:
- bronze: its columns + `_ingested_at`, `_source`, `_batch_id`; a statement trigger that
  refuses UPDATE and DELETE. A CDC replica is bronze but mutable (the sink upserts, a delete
  leaves a tombstone): no such trigger.
- silver (and a replica with `history: true`): `sys_period`, `<table>_history`, one PL/pgSQL
  trigger function with fixed SQL and its three triggers (a row whose columns outside
  `history_ignore` changed gets a new version start; per statement, the versions that ended
  go to history in one INSERT), and `<table>_as_of(timestamptz)`.
- gold: its columns + `_refreshed_at`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from dataplatform.cdc import metadata, naming, statements
from dataplatform.cdc.model import CdcPipeline
from dataplatform.errors import ConfigError
from dataplatform.warehouse import names
from dataplatform.warehouse.layout import TEMPLATES, object_file
from dataplatform.warehouse.objects import KIND_ORDER, Column, PipelineObjects, WarehouseObject
from dataplatform.warehouse.spec import BRONZE, LAYER_COLUMNS, SYS_PERIOD, WarehouseSpec

# A redelivered change only touches this: no new version.
REPLICA_IGNORED = (metadata.column(metadata.LOADED).name,)


@dataclass(frozen=True)
class Table:
    """One table to create, whatever declared it."""

    schema: str
    name: str
    layer: str | None  # None: the CDC checkpoint table (neither layer)
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    history: bool
    history_ignore: tuple[str, ...]
    comments: tuple[str, ...]  # -- lines above CREATE TABLE
    comment: str  # COMMENT ON TABLE
    declared_in: str
    append_only: bool = False
    live_filter: str | None = None  # SQL on a row: it is live (replicas: not a tombstone)

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}"


def environment(templates_root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root / TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def q(name: str) -> str:
    return naming.pg_quote(name)


def qualified(schema: str, name: str) -> str:
    return f"{q(schema)}.{q(name)}"


def declared_tables(spec: WarehouseSpec) -> list[Table]:
    tables = []
    for t in spec.tables:
        columns = t.columns + LAYER_COLUMNS[t.layer] + ((SYS_PERIOD,) if t.history else ())
        what = {"bronze": "append-only landing", "silver": "current state", "gold": "mart output"}[
            t.layer
        ]
        text = f"{t.layer} table ({what}){f': {t.description}' if t.description else ''}"
        tables.append(
            Table(
                t.schema,
                t.name,
                t.layer,
                columns,
                t.key,
                t.history,
                t.history_ignore,
                (f"{t.schema}.{t.name}: {text}.",),
                text,
                t.declared_in,
                append_only=t.layer == BRONZE,
            )
        )
    return tables


def cdc_tables(pipeline: CdcPipeline, lines: dict[str, int | None]) -> list[Table]:
    """The checkpoint table and one replica per CDC table; `lines` maps a source table's
    qualified name to the line declaring it."""
    schema, file = pipeline.target_schema, pipeline.declared_in
    tables = [
        Table(
            schema,
            statements.CHECKPOINT_TABLE,
            None,
            (
                Column("key", "text", False),
                Column("value", "text", False),
                Column("updated_at", "timestamptz", False, "now()"),
            ),
            ("key",),
            False,
            (),
            (
                "The source checkpoints (Redpanda Connect's sql cache: the last LSN each source",
                "table delivered).",
            ),
            f"CDC checkpoints of pipeline {pipeline.name}",
            file,
        )
    ]
    for source in pipeline.tables:
        key = tuple(statements.key_columns(pipeline, source))
        columns = tuple(
            Column(n, t, nullable and n not in key, d)
            for n, t, nullable, d in statements.replica_columns(pipeline, source)
        )
        if source.history:
            columns += (SYS_PERIOD,)
        operation = q(statements.OPERATION_COLUMN)
        tenant = " and tenant" if pipeline.adds_tenant_column else ""
        comments = (
            f"Replica of {source.qualified} (SQL Server), one row per key{tenant}.",
            f"A deleted key stays as a tombstone ({operation} = '{statements.DELETED}') so that "
            "no older change",
            "replayed later can bring it back; dbt staging shows only the other rows.",
        )
        if source.history:
            comments += (
                f"Every earlier version (a delete's too) is kept in "
                f"{names.history_table(source.target_table)}.",
            )
        line = lines.get(source.qualified)
        tables.append(
            Table(
                schema,
                source.target_table,
                BRONZE,
                columns,
                key,
                source.history,
                REPLICA_IGNORED if source.history else (),
                comments,
                f"CDC replica of {source.qualified} from source group {pipeline.group.name}",
                f"{file}:{line}" if line else file,
                live_filter=f"{operation} <> '{statements.DELETED}'",
            )
        )
    return tables


def _place(declared_in: str) -> tuple[str, int | None]:
    """(file, line) of a `file:line` (or a bare file)."""
    file, _, line = declared_in.rpartition(":")
    return (file, int(line)) if file and line.isdigit() else (declared_in, None)


def _describe(table: Table) -> str:
    if table.layer is None:
        return "the CDC checkpoint table"
    if table.live_filter:  # a replica
        return f"the CDC replica {table.display}"
    return f"{table.layer} table {table.display}"


def check_names(tables: list[Table]) -> None:
    """No two tables (or the relations around them: primary key, history table and its
    index) share a name: an error at the second, naming the first."""
    taken: dict[tuple[str, str], str] = {}
    for table in tables:
        own = _describe(table)
        relations = {table.name: ""}
        if table.key:
            relations[names.pkey(table.name)] = "primary key"
        if table.history:
            history, index = names.history_relations(table.name)
            relations |= {history: "history table", index: "history index"}
        for relation, role in relations.items():
            folded = (table.schema.lower(), relation.lower())
            if folded in taken:
                file, line = _place(table.declared_in)
                subject = f"its {role} {table.schema}.{relation}" if role else "the name"
                raise ConfigError(
                    file, line, own, f"{subject} is already {taken[folded]}", "rename one of them"
                )
            taken[folded] = (f"the {role} of {own}" if role else own) + f" ({table.declared_in})"


def build(pipeline: str, tables: list[Table], templates_root: Path) -> PipelineObjects:
    check_names(tables)
    env = environment(templates_root)
    objects: dict[str, WarehouseObject] = {}

    def add(obj: WarehouseObject) -> str:
        objects.setdefault(obj.id, obj)
        return obj.id

    for table in tables:
        schema_id = add(
            WarehouseObject(
                "schema",
                table.schema,
                table.schema,
                env.get_template("schema.sql.j2").render(schema=q(table.schema)),
                declared_in=table.declared_in,
            )
        )
        table_id = add(_table(env, table, schema_id))
        if table.history:
            _history(env, table, table_id, add)
        if table.append_only:
            function = names.append_only(table.name)
            function_id = add(
                WarehouseObject(
                    "function",
                    table.schema,
                    function,
                    env.get_template("append_only.sql.j2").render(
                        function=qualified(table.schema, function),
                        display=naming.pg_string(table.display),
                    ),
                    depends_on=(schema_id,),
                    declared_in=table.declared_in,
                )
            )
            add(
                _trigger(
                    env,
                    table,
                    function,
                    "BEFORE UPDATE OR DELETE",
                    "STATEMENT",
                    None,
                    function,
                    (table_id, function_id),
                )
            )
    ordered = sorted(objects.values(), key=lambda o: KIND_ORDER.index(o.kind))  # stable
    return PipelineObjects(pipeline, tuple(ordered))


def _table(
    env: jinja2.Environment, table: Table, schema_id: str, history_of: Table | None = None
) -> WarehouseObject:
    base = history_of or table
    columns = table.columns
    key = () if history_of else table.key
    index = None
    if history_of:
        index = {
            "name": q(names.history_index(base.name)),
            "columns": [q(k) for k in base.key] + [q(SYS_PERIOD.name)],
        }
    ddl = (
        env.get_template("table.sql.j2")
        .render(
            table=qualified(table.schema, table.name),
            columns=[
                {
                    "sql": q(c.name),
                    "type": c.type,
                    "nullable": c.nullable,
                    "default": c.default,
                    "key": c.name in key,
                }
                for c in columns
            ],
            key_columns=[q(k) for k in key],
            pkey_name=q(names.pkey(table.name)),
            index=index,
            comments=table.comments,
            comment=naming.pg_string(table.comment),
        )
        .lstrip()
    )
    return WarehouseObject(
        "table",
        table.schema,
        table.name,
        ddl,
        layer="history" if history_of else table.layer,
        columns=columns,
        key=key,
        depends_on=(schema_id,),
        declared_in=table.declared_in,
    )


def _history(env: jinja2.Environment, table: Table, table_id: str, add) -> None:
    history_name = names.history_table(table.name)
    history = replace(
        table,
        name=history_name,
        columns=tuple(replace(c, default=None) for c in table.columns),
        comments=(
            f"Every earlier version of {table.display}, with the time it was current (sys_period).",
        ),
        comment=f"history of {table.display}: earlier row versions and when each was current",
    )
    history_id = add(_table(env, history, f"schema:{table.schema}", history_of=table))
    kept = [c for c in table.columns if c.name != SYS_PERIOD.name]
    compared = [q(c.name) for c in kept if c.name not in table.history_ignore]
    function = names.versioning(table.name)
    function_id = add(
        WarehouseObject(
            "function",
            table.schema,
            function,
            env.get_template("versioning.sql.j2").render(
                function=qualified(table.schema, function),
                history=qualified(table.schema, history_name),
                columns=[q(c.name) for c in kept],
                key=[q(k) for k in table.key],
                sys_period=q(SYS_PERIOD.name),
            ),
            depends_on=(table_id, history_id),
            declared_in=table.declared_in,
        )
    )
    when = (
        f"ROW({', '.join(f'OLD.{c}' for c in compared)}) IS DISTINCT FROM "
        f"ROW({', '.join(f'NEW.{c}' for c in compared)})"
    )
    depends = (table_id, function_id)
    add(
        _trigger(
            env,
            table,
            names.stamp_trigger(table.name),
            "BEFORE UPDATE",
            "ROW",
            when,
            function,
            depends,
        )
    )
    add(
        _trigger(
            env,
            table,
            names.update_trigger(table.name),
            "AFTER UPDATE",
            "STATEMENT",
            None,
            function,
            depends,
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        )
    )
    add(
        _trigger(
            env,
            table,
            names.delete_trigger(table.name),
            "AFTER DELETE",
            "STATEMENT",
            None,
            function,
            depends,
            "OLD TABLE AS old_rows",
        )
    )
    as_of = names.as_of_function(table.name)
    add(
        WarehouseObject(
            "function",
            table.schema,
            as_of,
            env.get_template("as_of.sql.j2").render(
                function=qualified(table.schema, as_of),
                table=qualified(table.schema, table.name),
                history=qualified(table.schema, history_name),
                columns=[{"sql": q(c.name), "type": c.type} for c in table.columns],
                live_filter=table.live_filter,
                sys_period=q(SYS_PERIOD.name),
                comment=naming.pg_string(f"rows of {table.display} as they were at an instant"),
            ),
            depends_on=(table_id, history_id),
            declared_in=table.declared_in,
        )
    )


def _trigger(
    env: jinja2.Environment,
    table: Table,
    name: str,
    timing: str,
    level: str,
    when: str | None,
    function: str,
    depends_on: tuple[str, ...],
    referencing: str | None = None,
) -> WarehouseObject:
    ddl = env.get_template("trigger.sql.j2").render(
        name=q(name),
        timing=timing,
        table=qualified(table.schema, table.name),
        level=level,
        when=when,
        function=qualified(table.schema, function),
        referencing=referencing,
    )
    return WarehouseObject(
        "trigger",
        table.schema,
        name,
        ddl,
        table=table.name,
        depends_on=depends_on,
        declared_in=table.declared_in,
    )


def sql_files(objects: PipelineObjects) -> dict[str, str]:
    """One `.sql` file per object, named for apply order, starting with where it came from."""
    files: dict[str, str] = {}
    for obj in objects.objects:
        path = object_file(obj.kind, obj.schema, obj.name)
        if path in files:  # two names folding to one ASCII label: keep both, distinctly
            stem = path.removesuffix(".sql")
            path = next(f"{stem}_{n}.sql" for n in range(2, 1000) if f"{stem}_{n}.sql" not in files)
        source = _place(obj.declared_in)[0]
        files[path] = f"-- generated from {source} — edit it instead\n{obj.ddl}"
    return files
