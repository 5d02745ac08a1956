"""Read a pipeline's declared warehouse tables (`warehouse:` in `pipeline.yaml`, or
`config/tables.yaml`) into frozen, validated tables.

Every rule the renderer relies on is checked here, with file, line and key (and a did-you-mean
for typos): the layer, identifiers PostgreSQL would truncate, column types that are not even
type-shaped (the server checks the rest at deploy time), key and `history_ignore` columns that
are not columns, history on a table that cannot have it, column names the layer itself adds,
and two tables of one name.

```yaml
warehouse:
  schema: finance            # default schema of the tables below (else: CDC target_schema,
  tables:                    #   else the pipeline's name)
    - name: account_balance
      layer: silver          # bronze | silver | gold
      key: [account_no]
      columns:
        account_no: text not null
        balance: {type: numeric(18,2), nullable: false, default: 0}
      history_ignore: [checked_at]
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dataplatform.cdc import naming
from dataplatform.config.validate import check_keys, describe, expect, optional, suggestion
from dataplatform.config.yamlsource import KeyPath, YamlDocument, load_yaml
from dataplatform.project import Project
from dataplatform.warehouse.layout import SEPARATE_FILE, TablesSource
from dataplatform.warehouse.names import LONGEST_SUFFIX
from dataplatform.warehouse.objects import Column

BRONZE, SILVER, GOLD = "bronze", "silver", "gold"
LAYERS = (BRONZE, SILVER, GOLD)
SECTION_KEYS = ("schema", "tables")
TABLE_KEYS = (
    "name",
    "schema",
    "layer",
    "description",
    "columns",
    "key",
    "history",
    "history_ignore",
)
COLUMN_KEYS = ("type", "nullable", "default")
SYS_PERIOD = Column("sys_period", "tstzrange", False, "tstzrange(now(), NULL)")
# The columns each layer adds after the declared ones (a declared column may not take a name).
LAYER_COLUMNS: dict[str, tuple[Column, ...]] = {
    BRONZE: (
        Column("_ingested_at", "timestamptz", False, "now()"),
        Column("_source", "text"),
        Column("_batch_id", "text"),
    ),
    SILVER: (),  # + sys_period when it keeps history
    GOLD: (Column("_refreshed_at", "timestamptz", False, "now()"),),
}
# A type as PostgreSQL spells one: words (optionally schema-qualified), an optional (n) or
# (p,s) modifier, more words (`with time zone`), array brackets. Whether the server knows it
# is checked at deploy time.
_TYPE = re.compile(
    r"^[A-Za-z_][\w.]*(?:\s+[A-Za-z_]\w*)*"
    r"(?:\s*\(\s*\d+(?:\s*,\s*-?\d+)?\s*\))?(?:\s+[A-Za-z_]\w*)*"
    r"(?:\s*\[\s*\d*\s*\])*$"
)
_SHORTHAND = re.compile(r"^(?P<type>.*?)(?:\s+(?P<null>not\s+null|null))?\s*$", re.I)


@dataclass(frozen=True)
class TableSpec:
    """One declared table: `columns` are the declared ones (the layer adds its own)."""

    schema: str
    name: str
    layer: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    history: bool
    history_ignore: tuple[str, ...]
    description: str
    declared_in: str  # file:line

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class WarehouseSpec:
    pipeline: str
    schema: str  # the pipeline's warehouse schema (the tables' default)
    tables: tuple[TableSpec, ...]
    declared_in: str  # display path of the file


def load(project: Project, source: TablesSource, default_schema: str) -> WarehouseSpec:
    """Load and validate the tables `source` declares; `default_schema` is used when the
    section names none."""
    directory = project.pipelines_dir / source.pipeline
    separate = directory / SEPARATE_FILE
    if source.keypath and separate.exists():
        doc = load_yaml(source.file, project.relative(source.file))
        raise doc.error(
            source.keypath,
            f"{project.relative(separate)} declares the pipeline's warehouse tables too",
            "keep one of them",
        )
    doc = load_yaml(source.file, project.relative(source.file))
    body = doc.data
    for key in source.keypath:
        body = body.get(key) if isinstance(body, dict) else None
    return parse(doc, source.keypath, body, source.pipeline, default_schema)


def parse(
    doc: YamlDocument, keypath: KeyPath, body: Any, pipeline: str, default_schema: str
) -> WarehouseSpec:
    hint = "give tables: [{name, layer, columns, key}]"
    if body is None:
        raise doc.error(keypath, "is empty", hint)
    expect(doc, keypath, body, dict, hint)
    check_keys(doc, keypath, body, SECTION_KEYS)
    schema = _identifier(
        doc,
        (*keypath, "schema"),
        optional(doc, keypath, body, "schema", str, None) or default_schema,
        "schema name",
    )
    raw_tables = optional(doc, keypath, body, "tables", list, [])
    if not raw_tables:
        raise doc.error(keypath, "no tables", hint)
    tables: list[TableSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_tables):
        where = (*keypath, "tables", index)
        table = _table(doc, where, raw, schema)
        folded = table.qualified.lower()
        if folded in seen:
            raise doc.error(
                (*where, "name"),
                f"table {table.qualified} is declared twice "
                f"(first on line {doc.line((*keypath, 'tables', seen[folded]))})",
                "rename or remove one of them",
            )
        seen[folded] = index
        tables.append(table)
    return WarehouseSpec(pipeline, schema, tuple(tables), doc.display)


def _identifier(doc: YamlDocument, keypath: KeyPath, name: Any, what: str, suffix: str = "") -> str:
    if isinstance(name, bool):
        raise doc.error(
            keypath, "a name YAML reads as true/false (from yes, no, on, off)", "quote it"
        )
    if isinstance(name, int | float):
        name = str(name)
    name = expect(doc, keypath, name, str)
    problem = naming.pg_identifier_problem(name + suffix)
    if problem:
        shown = f"{name!r} (as {name + suffix!r})" if suffix else repr(name)
        raise doc.error(keypath, f"{what} {shown} {problem}", "choose a shorter name")
    return name


def _table(doc: YamlDocument, keypath: KeyPath, body: Any, default_schema: str) -> TableSpec:
    expect(doc, keypath, body, dict, "a table is a mapping of name, layer, columns, key")
    check_keys(doc, keypath, body, TABLE_KEYS)
    if "name" not in body:
        raise doc.error(keypath, "missing name", "add name: <table>")
    name = _identifier(doc, (*keypath, "name"), body["name"], "table name", LONGEST_SUFFIX)
    schema = _identifier(
        doc, (*keypath, "schema"), body.get("schema") or default_schema, "schema name"
    )
    layer = _layer(doc, keypath, body)
    raw_columns = body.get("columns")
    if not raw_columns:
        raise doc.error(
            (*keypath, "columns") if "columns" in body else keypath,
            "no columns",
            "list them under columns: {name: type}",
        )
    columns = _columns(doc, (*keypath, "columns"), raw_columns, layer)
    names = [c.name for c in columns]
    key = _column_list(doc, keypath, body, "key", names)
    if layer == SILVER and not key:
        raise doc.error(
            keypath,
            f"silver table {schema}.{name} has no key",
            "name its key column(s), e.g. key: [id] (history is kept per key)",
        )
    history = optional(doc, keypath, body, "history", bool, layer == SILVER)
    if history and layer != SILVER:
        why = (
            "a bronze table is append-only: its rows never change"
            if layer == BRONZE
            else "a gold table is rebuilt by its marts"
        )
        raise doc.error(
            (*keypath, "history"),
            f"history is for silver tables (and CDC replicas); {why}",
            "use layer: silver, or remove history",
        )
    ignore = _column_list(doc, keypath, body, "history_ignore", names)
    if ignore and not history:
        raise doc.error(
            (*keypath, "history_ignore"),
            "applies only to a table with history",
            "remove it, or set history: true",
        )
    for column_name in ignore:
        if column_name in key:
            raise doc.error(
                (*keypath, "history_ignore"),
                f"{column_name!r} is a key column",
                "a key change is always a new version: remove it here",
            )
    columns = tuple(
        Column(c.name, c.type, False, c.default) if c.name in key else c for c in columns
    )
    description = optional(doc, keypath, body, "description", str, "")
    return TableSpec(
        schema,
        name,
        layer,
        columns,
        key,
        history,
        ignore,
        description,
        f"{doc.display}:{doc.line(keypath)}",
    )


def _layer(doc: YamlDocument, keypath: KeyPath, body: dict) -> str:
    if "layer" not in body:
        raise doc.error(keypath, "missing layer", f"add layer: one of {', '.join(LAYERS)}")
    layer = body["layer"]
    if layer not in LAYERS:
        near = suggestion(str(layer), LAYERS) if isinstance(layer, str) else ""
        shown = repr(layer) if isinstance(layer, str) else describe(layer)
        raise doc.error(
            (*keypath, "layer"),
            f"unknown layer {shown}",
            f"did you mean '{near}'?" if near else f"use one of {', '.join(LAYERS)}",
        )
    return layer


def _columns(doc: YamlDocument, keypath: KeyPath, raw: Any, layer: str) -> tuple[Column, ...]:
    """`{name: type | {type, nullable, default}}` or `[{name, type, nullable, default}]`."""
    items: list[tuple[KeyPath, Any, Any]] = []
    if isinstance(raw, dict):
        items = [((*keypath, str(n)), n, spec) for n, spec in raw.items()]
    elif isinstance(raw, list):
        for index, spec in enumerate(raw):
            where = (*keypath, index)
            expect(doc, where, spec, dict, "a column is a mapping of name, type, nullable")
            check_keys(doc, where, spec, ("name", *COLUMN_KEYS))
            if "name" not in spec:
                raise doc.error(where, "missing name", "add name: <column>")
            rest = {k: v for k, v in spec.items() if k != "name"}
            items.append((where, spec["name"], rest))
    else:
        expect(doc, keypath, raw, dict, "list them under columns: {name: type}")
    reserved = {c.name: layer for c in LAYER_COLUMNS[layer]}
    reserved[SYS_PERIOD.name] = "silver"
    columns: dict[str, Column] = {}
    for where, raw_name, spec in items:
        name = _identifier(doc, where, raw_name, "column name")
        if name in reserved:
            raise doc.error(
                where,
                f"column {name!r} is one the platform adds ({reserved[name]} metadata)",
                "rename it",
            )
        if name in columns:
            raise doc.error(where, "column declared twice", "keep one of them")
        columns[name] = _column(doc, where, name, spec)
    return tuple(columns.values())


def _column(doc: YamlDocument, keypath: KeyPath, name: str, spec: Any) -> Column:
    fix = "write a PostgreSQL type, e.g. text, varchar(60), numeric(12,2), timestamptz"
    if isinstance(spec, str):
        match = _SHORTHAND.match(spec.strip())
        assert match is not None
        type_text = match.group("type")
        nullable = (match.group("null") or "null").lower() == "null"
        return Column(name, _type(doc, keypath, type_text, fix), nullable)
    expect(doc, keypath, spec, dict, fix)
    check_keys(doc, keypath, spec, COLUMN_KEYS)
    if "type" not in spec:
        raise doc.error(keypath, "missing type", fix)
    type_text = _type(
        doc, (*keypath, "type"), expect(doc, (*keypath, "type"), spec["type"], str, fix), fix
    )
    nullable = optional(doc, keypath, spec, "nullable", bool, True)
    default = spec.get("default")
    if isinstance(default, bool):
        default = str(default).lower()
    elif isinstance(default, int | float):
        default = str(default)
    elif default is not None:
        default = expect(
            doc, (*keypath, "default"), default, str, "a SQL expression, e.g. 0, now(), 'none'"
        )
        if not default.strip() or ";" in default:
            raise doc.error(
                (*keypath, "default"),
                f"{default!r} is not one SQL expression",
                "write an expression, e.g. 0, now(), 'none'",
            )
    return Column(name, type_text, nullable, default)


def _type(doc: YamlDocument, keypath: KeyPath, text: str, fix: str) -> str:
    text = " ".join(text.split())
    if not _TYPE.match(text):
        raise doc.error(keypath, f"{text!r} is not a PostgreSQL type name", fix)
    return text


def _column_list(
    doc: YamlDocument, keypath: KeyPath, body: dict, key: str, columns: list[str]
) -> tuple[str, ...]:
    raw = body.get(key)
    if raw in (None, "", []):
        return ()
    values = [raw] if isinstance(raw, str) else raw
    expect(doc, (*keypath, key), values, list, f"{key}: [column, ...]")
    for index, value in enumerate(values):
        where = (*keypath, key) if isinstance(raw, str) else (*keypath, key, index)
        if value not in columns:
            near = suggestion(str(value), columns)
            raise doc.error(
                where,
                f"{str(value)!r} is not among the table's columns",
                f"did you mean '{near}'?" if near else "add it under columns:",
            )
    if len(set(values)) != len(values):
        raise doc.error((*keypath, key), "lists a column twice")
    return tuple(values)
