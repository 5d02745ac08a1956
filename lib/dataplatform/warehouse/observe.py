"""What a live PostgreSQL holds, read from its catalog in one pass, and a fingerprint of each
object; the deploy ledger's rows; and the server's reading of the types the objects declare.

Only DB-API calls on a cursor (`execute`, `fetchall`, `%s` parameters) are used, so the same
code runs with psycopg 3 (`invoke db.*`) and psycopg2 (inside the Airflow/Dagster containers).
Nothing here changes the database: the type check creates a temporary table inside a savepoint
and rolls back to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

LEDGER = "_platform.deployments"


def _sha(data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ObservedColumn:
    name: str
    type: str  # format_type(atttypid, atttypmod): `character varying(50)`
    typname: str  # pg_type.typname: `varchar`, `int4`, `numeric`
    typmod: int
    notnull: bool
    default: str | None  # pg_get_expr of the default: `'c'::bpchar`, `now()`


@dataclass(frozen=True)
class ObservedTable:
    schema: str
    name: str
    columns: tuple[ObservedColumn, ...]
    key: tuple[str, ...] = ()
    key_name: str | None = None  # the primary key constraint's name

    @property
    def fingerprint(self) -> str:
        return _sha(
            {
                "columns": [[c.name, c.type, c.notnull, c.default] for c in self.columns],
                "key": list(self.key),
            }
        )

    def column(self, name: str) -> ObservedColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class ObservedFunction:
    schema: str
    name: str
    definition: str  # pg_get_functiondef

    @property
    def fingerprint(self) -> str:
        return _sha(self.definition)


@dataclass(frozen=True)
class ObservedTrigger:
    schema: str
    table: str
    name: str
    definition: str  # pg_get_triggerdef
    enabled: str  # pg_trigger.tgenabled: O (enabled), D (disabled), R, A

    @property
    def fingerprint(self) -> str:
        return _sha([self.definition, self.enabled])


@dataclass(frozen=True)
class Catalog:
    """The objects of some schemas as the server has them now."""

    server_version: str = ""
    schemas: frozenset[str] = frozenset()
    tables: dict[tuple[str, str], ObservedTable] = field(default_factory=dict)
    functions: dict[tuple[str, str], ObservedFunction] = field(default_factory=dict)
    triggers: dict[tuple[str, str, str], ObservedTrigger] = field(default_factory=dict)

    def fingerprint(
        self, kind: str, schema: str, name: str, table: str | None = None
    ) -> str | None:
        """The fingerprint of an object, or None when the server has no such object."""
        if kind == "schema":
            return _sha(["schema", name]) if name in self.schemas else None
        if kind == "table":
            found_table = self.tables.get((schema, name))
            return found_table.fingerprint if found_table else None
        if kind == "function":
            found_function = self.functions.get((schema, name))
            return found_function.fingerprint if found_function else None
        if kind == "trigger":
            found_trigger = self.triggers.get((schema, table or "", name))
            return found_trigger.fingerprint if found_trigger else None
        raise ValueError(f"unknown object kind {kind!r}")


@dataclass(frozen=True)
class LedgerRow:
    """What the last deploy of one object recorded."""

    pipeline: str
    object_id: str
    kind: str
    schema: str
    name: str
    table: str | None
    sha256: str
    fingerprint: str | None
    env: str
    deployed_at: str
    deployed_by: str


@dataclass(frozen=True)
class ResolvedType:
    """The server's reading of a declared type (and default) as a column would have it."""

    type: str  # format_type: what the catalog will show
    typname: str
    typmod: int
    default: str | None  # pg_get_expr of the default as the column would have it


@dataclass(frozen=True)
class Types:
    """Declared (type, default) → the server's reading; `unknown` type texts the server does
    not know; `bad_defaults` (type, default) → the server's complaint."""

    resolved: dict[tuple[str, str | None], ResolvedType] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    bad_defaults: dict[tuple[str, str | None], str] = field(default_factory=dict)


def _rows(cursor, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    cursor.execute(sql, params) if params is not None else cursor.execute(sql)
    return list(cursor.fetchall())


_TABLES = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
       a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)
ORDER BY n.nspname, c.relname, a.attnum
"""
_KEYS = """
SELECT n.nspname, c.relname, k.conname,
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, i)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.i)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'p' AND n.nspname = ANY(%s)
"""
_FUNCTIONS = """
SELECT n.nspname, p.proname, pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND n.nspname = ANY(%s)
"""
_TRIGGERS = """
SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND n.nspname = ANY(%s)
"""


def catalog(cursor, schemas: Iterable[str]) -> Catalog:
    """Read the tables (columns, primary keys), functions and triggers of `schemas`."""
    names = sorted(set(schemas))
    version = _rows(cursor, "SHOW server_version")[0][0]
    present = frozenset(
        r[0]
        for r in _rows(cursor, "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [names])
    )
    columns: dict[tuple[str, str], list[ObservedColumn]] = {}
    for schema, table, *column in _rows(cursor, _TABLES, [names]):
        name, type_, typname, typmod, notnull, default = column
        columns.setdefault((schema, table), []).append(
            ObservedColumn(name, type_, typname, int(typmod), bool(notnull), default)
        )
    keys = {(r[0], r[1]): (r[2], tuple(r[3])) for r in _rows(cursor, _KEYS, [names])}
    tables = {
        where: ObservedTable(
            where[0],
            where[1],
            tuple(cols),
            keys.get(where, (None, ()))[1],
            keys.get(where, (None,))[0],
        )
        for where, cols in columns.items()
    }
    functions = {
        (r[0], r[1]): ObservedFunction(r[0], r[1], r[2]) for r in _rows(cursor, _FUNCTIONS, [names])
    }
    triggers = {
        (r[0], r[1], r[2]): ObservedTrigger(r[0], r[1], r[2], r[3], str(r[4]))
        for r in _rows(cursor, _TRIGGERS, [names])
    }
    return Catalog(str(version), present, tables, functions, triggers)


def ledger_exists(cursor) -> bool:
    # a catalog query, not to_regclass(): that can miss a ledger a concurrent deploy created
    # and committed while this transaction waited for the deploy lock
    schema, table = LEDGER.split(".")
    return _rows(
        cursor,
        "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s)",
        [schema, table],
    )[0][0]


def ledger(cursor) -> list[LedgerRow]:
    """Every row of the deploy ledger; none when it does not exist yet (never creates it)."""
    if not ledger_exists(cursor):
        return []
    rows = _rows(
        cursor,
        f"""
        SELECT pipeline, object_id, kind, schema_name, object_name, table_name, sha256,
               fingerprint, env,
               to_char(deployed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
               deployed_by
        FROM {LEDGER} ORDER BY pipeline, object_id""",
    )
    return [LedgerRow(*row) for row in rows]


def resolve_types(cursor, wanted: Iterable[tuple[str, str | None]]) -> Types:
    """Ask the server what each declared (type, default) is: `to_regtype` for existence, then
    a temporary table with one column per pair (rolled back) for `format_type` and the
    normalized default, exactly as a real column would show them in the catalog."""
    pairs = sorted(set(wanted), key=lambda p: (p[0], p[1] or ""))
    if not pairs:
        return Types()
    texts = sorted({t for t, _ in pairs})
    unknown = set()
    for text in texts:
        if not _attempt(cursor, "SELECT to_regtype(%s) IS NOT NULL", [text], fetch=True):
            unknown.add(text)
    usable = [p for p in pairs if p[0] not in unknown]
    resolved: dict[tuple[str, str | None], ResolvedType] = {}
    bad: dict[tuple[str, str | None], str] = {}
    for start in range(0, len(usable), 1000):  # a table has at most 1600 columns
        chunk = usable[start : start + 1000]
        try:
            resolved.update(_through_temp_table(cursor, chunk))
        except _Failed:
            for pair in chunk:  # find the pair(s) the server refuses
                try:
                    resolved.update(_through_temp_table(cursor, [pair]))
                except _Failed as exc:
                    bad[pair] = exc.message
    return Types(resolved, frozenset(unknown), bad)


class _Failed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _attempt(cursor, sql: str, params: Sequence[Any] | None, fetch: bool = False) -> Any:
    """Run `sql` inside a savepoint; its first value (or True), or False when it fails."""
    cursor.execute("SAVEPOINT dataplatform_probe")
    try:
        cursor.execute(sql, params) if params is not None else cursor.execute(sql)
        value = cursor.fetchall()[0][0] if fetch else True
    except Exception:
        cursor.execute("ROLLBACK TO SAVEPOINT dataplatform_probe")
        return False
    cursor.execute("RELEASE SAVEPOINT dataplatform_probe")
    return value


def _through_temp_table(
    cursor, pairs: list[tuple[str, str | None]]
) -> dict[tuple[str, str | None], ResolvedType]:
    columns = ", ".join(
        f"c{i} {type_}" + (f" DEFAULT {default}" if default is not None else "")
        for i, (type_, default) in enumerate(pairs)
    )
    cursor.execute("SAVEPOINT dataplatform_types")
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE dataplatform_types ({columns})")
        cursor.execute("""
            SELECT a.attnum, format_type(a.atttypid, a.atttypmod), t.typname, a.atttypmod,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = 'pg_temp.dataplatform_types'::regclass AND a.attnum > 0
            ORDER BY a.attnum""")
        rows = cursor.fetchall()
    except Exception as exc:
        cursor.execute("ROLLBACK TO SAVEPOINT dataplatform_types")
        raise _Failed(" ".join(str(exc).split("\n")[0].split())) from None
    cursor.execute("ROLLBACK TO SAVEPOINT dataplatform_types")
    cursor.execute("RELEASE SAVEPOINT dataplatform_types")
    return {
        pairs[int(attnum) - 1]: ResolvedType(type_, typname, int(typmod), default)
        for attnum, type_, typname, typmod, default in rows
    }
