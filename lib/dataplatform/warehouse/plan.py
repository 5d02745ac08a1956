"""From what should be (a pipeline's objects), what is (the catalog) and what was deployed
(the ledger) to the ordered steps that make the database match — a pure function, no I/O.

Each step is ONE SQL statement with a human description, or a ledger-only note (`sql` None).
- New objects are created with their DDL, in dependency order (KIND_ORDER, then depends_on).
- A table that exists is migrated column by column: added columns, safe widenings
  (`ALTER COLUMN … TYPE`), NOT NULL and default changes, a changed primary key. Narrowing or
  lossy type changes, dropped columns and dropped tables are destructive: refused with one line
  naming table and column unless `allow_destructive`.
- Functions are re-created (`CREATE OR REPLACE`) and triggers dropped and re-created when
  their DDL changed, when the ledger does not know them, or when they drifted.
- Drift: the catalog's fingerprint of an object differs from the one the ledger recorded
  after the last deploy (someone changed it by hand). It is shown, and the steps restore the
  declared state (or are refused when that would destroy data).
- An object whose DDL and catalog match the ledger is skipped without comparing anything: a
  second deploy with nothing changed plans nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dataplatform.errors import UserError
from dataplatform.warehouse.objects import (
    KIND_ORDER,
    Column,
    PipelineObjects,
    WarehouseObject,
)
from dataplatform.warehouse.observe import (
    Catalog,
    LedgerRow,
    ObservedColumn,
    ObservedTable,
    ResolvedType,
    Types,
)

# Not types but column shorthands: checked and compared as the integer type they make; their
# default (a sequence of their own) is never compared.
SERIALS = {
    "smallserial": "smallint",
    "serial2": "smallint",
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
}


@dataclass(frozen=True)
class Step:
    """One change: `sql` is a single statement, or None for a ledger-only note."""

    object_id: str
    action: str
    detail: str
    sql: str | None = None
    drift: bool = False
    destructive: bool = False


@dataclass(frozen=True)
class Plan:
    pipeline: str
    steps: tuple[Step, ...] = ()
    refusals: tuple[str, ...] = ()  # destructive steps not allowed: one line each
    forget: tuple[str, ...] = ()  # ledger rows of objects that are gone once this runs

    @property
    def up_to_date(self) -> bool:
        return not self.steps and not self.forget and not self.refusals

    @property
    def statements(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.sql is not None)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}"


def _base(type_: str) -> str:
    return SERIALS.get(type_.strip().lower(), type_)


def _default(column: Column) -> str | None:
    return None if column.type.strip().lower() in SERIALS else column.default


def ordered(objects: Iterable[WarehouseObject]) -> list[WarehouseObject]:
    """Objects in deploy order: by KIND_ORDER, each after what it depends on, otherwise in
    the order given. A dependency cycle is an error naming the objects in it."""
    items = list(objects)
    position = {o.id: i for i, o in enumerate(items)}
    waiting = {o.id: {d for d in o.depends_on if d in position and d != o.id} for o in items}
    dependents: dict[str, list[str]] = {}
    for name, needs in waiting.items():
        for need in needs:
            dependents.setdefault(need, []).append(name)

    def rank(obj: WarehouseObject) -> tuple[int, int]:
        kind = KIND_ORDER.index(obj.kind) if obj.kind in KIND_ORDER else len(KIND_ORDER)
        return kind, position[obj.id]

    by_id = {o.id: o for o in items}
    ready = [(rank(o), o.id) for o in items if not waiting[o.id]]
    heapq.heapify(ready)
    result: list[WarehouseObject] = []
    while ready:
        _, name = heapq.heappop(ready)
        result.append(by_id[name])
        for dependent in dependents.get(name, ()):
            waiting[dependent].discard(name)
            if not waiting[dependent]:
                heapq.heappush(ready, (rank(by_id[dependent]), dependent))
    if len(result) < len(items):
        stuck = sorted(n for n, needs in waiting.items() if needs)
        raise UserError(
            f"warehouse objects depend on each other in a cycle: {', '.join(stuck)} "
            "— this is a bug in the generated objects.json; report it"
        )
    return result


def type_requests(
    desired: PipelineObjects, catalog: Catalog, ledger: Sequence[LedgerRow]
) -> set[tuple[str, str | None]]:
    """The (type, default) pairs the server must read before planning: those of every table
    that is new, changed, drifted or not yet in the ledger."""
    recorded = _recorded(desired.pipeline, ledger)
    wanted: set[tuple[str, str | None]] = set()
    for obj in desired.objects:
        if obj.kind == "table" and not _clean(obj, catalog, recorded.get(obj.id)):
            wanted.update((_base(c.type), _default(c)) for c in obj.columns)
    return wanted


def _recorded(pipeline: str, ledger: Sequence[LedgerRow]) -> dict[str, LedgerRow]:
    return {row.object_id: row for row in ledger if row.pipeline == pipeline}


def _clean(obj: WarehouseObject, catalog: Catalog, row: LedgerRow | None) -> bool:
    """Deployed as it is now declared and untouched since."""
    now = catalog.fingerprint(obj.kind, obj.schema, obj.name, obj.table)
    return (
        row is not None and now is not None and row.sha256 == obj.sha256 and row.fingerprint == now
    )


def plan(
    desired: PipelineObjects,
    catalog: Catalog,
    ledger: Sequence[LedgerRow],
    types: Types,
    allow_destructive: bool = False,
) -> Plan:
    """The steps that make `catalog` match `desired` (see the module docstring)."""
    recorded = _recorded(desired.pipeline, ledger)
    _check_types(desired, catalog, recorded, types)
    steps: list[Step] = []
    forget: list[str] = []
    wanted_ids = {o.id for o in desired.objects}
    owned_elsewhere = {r.object_id for r in ledger if r.pipeline != desired.pipeline}
    gone = [r for r in recorded.values() if r.object_id not in wanted_ids]
    gone.sort(key=lambda r: -KIND_ORDER.index(r.kind) if r.kind in KIND_ORDER else 0)
    for row in gone:
        forget.append(row.object_id)
        if row.object_id not in owned_elsewhere:
            steps.extend(_drop(row, catalog))
    objects = ordered(desired.objects)
    planned = {obj.id: _object_steps(obj, catalog, recorded.get(obj.id), types) for obj in objects}
    # PostgreSQL cannot change the type of a column a trigger's WHEN names: the triggers of a
    # table whose column types change are dropped first and created again after
    retyped = {
        (o.schema, o.name) for o in objects if any(s.action == "alter type" for s in planned[o.id])
    }
    for obj in objects:
        if (
            obj.kind != "trigger"
            or (obj.schema, obj.table) not in retyped
            or catalog.fingerprint(obj.kind, obj.schema, obj.name, obj.table) is None
        ):
            continue
        why = f"{_describe(obj)}: re-created around the type change of its table"
        notes = [s for s in planned[obj.id] if s.sql is None]  # its drift, if any
        drift = any(s.drift for s in planned[obj.id])
        steps.append(
            Step(
                obj.id,
                "drop trigger",
                why,
                _drop_trigger(obj.schema, obj.name, obj.table or ""),
                drift,
            )
        )
        planned[obj.id] = [*notes, Step(obj.id, "create", why, obj.ddl, drift)]
    for obj in objects:
        steps.extend(planned[obj.id])
    refusals = tuple(
        _refusal(desired.pipeline, s) for s in steps if s.destructive and not allow_destructive
    )
    if refusals:
        steps = [s for s in steps if not s.destructive]
    return Plan(desired.pipeline, tuple(steps), refusals, tuple(forget))


def _check_types(
    desired: PipelineObjects, catalog: Catalog, recorded: dict[str, LedgerRow], types: Types
) -> None:
    """One line for the first column whose type (or default) the server does not accept."""
    problems = []
    for obj in desired.objects:
        if obj.kind != "table" or _clean(obj, catalog, recorded.get(obj.id)):
            continue
        for column in obj.columns:
            pair = (_base(column.type), _default(column))
            where = f"{obj.declared_in}: " if obj.declared_in else ""
            what = f"{where}table {obj.schema}.{obj.name}, column {column.name}"
            if pair[0] in types.unknown:
                problems.append(
                    f"{what}: type {column.type!r} does not exist on the server (PostgreSQL "
                    f"{catalog.server_version}) — use a PostgreSQL type (e.g. text, integer, "
                    "numeric(12,2), timestamptz), or create the type or extension first"
                )
            elif pair in types.bad_defaults:
                problems.append(
                    f"{what}: default {column.default!r} does not work for "
                    f"{column.type}: {types.bad_defaults[pair]} — fix the default"
                )
            elif pair not in types.resolved:
                raise AssertionError(f"type {pair} of {obj.id} was not read from the server")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)


def _refusal(pipeline: str, step: Step) -> str:
    return (
        f"{pipeline}: {step.detail} — refused: it would lose data; rerun with "
        "--allow-destructive to apply it"
    )


def _drop(row: LedgerRow, catalog: Catalog) -> list[Step]:
    """Steps removing an object the pipeline no longer declares (if it still exists)."""
    if catalog.fingerprint(row.kind, row.schema, row.name, row.table) is None:
        return []
    if row.kind == "trigger":
        return [
            Step(
                row.object_id,
                "drop trigger",
                f"trigger {row.name} on {row.schema}.{row.table} is no longer declared",
                _drop_trigger(row.schema, row.name, row.table or ""),
            )
        ]
    if row.kind == "function":
        return [
            Step(
                row.object_id,
                "drop function",
                f"function {row.schema}.{row.name} is no longer declared",
                f"DROP FUNCTION IF EXISTS {qualified(row.schema, row.name)}",
            )
        ]
    if row.kind == "table":
        return [
            Step(
                row.object_id,
                "drop table",
                f"table {row.schema}.{row.name} is no longer "
                "declared: dropping it deletes its rows",
                f"DROP TABLE {qualified(row.schema, row.name)}",
                destructive=True,
            )
        ]
    return [
        Step(
            row.object_id,
            "drop schema",
            f"schema {row.name} is no longer declared: dropping it (only when empty)",
            f"DROP SCHEMA {quote(row.name)} RESTRICT",
            destructive=True,
        )
    ]


def _object_steps(
    obj: WarehouseObject, catalog: Catalog, row: LedgerRow | None, types: Types
) -> list[Step]:
    now = catalog.fingerprint(obj.kind, obj.schema, obj.name, obj.table)
    if _clean(obj, catalog, row):
        return []
    what = _describe(obj)
    if now is None:
        if row is not None:
            return [
                Step(
                    obj.id,
                    "create",
                    f"{what} was dropped by hand since the last deploy "
                    f"({row.deployed_at}); re-created",
                    obj.ddl,
                    drift=True,
                )
            ]
        detail = what + (f": {len(obj.columns)} columns" if obj.kind == "table" else "")
        if obj.key:
            detail += f", key ({', '.join(obj.key)})"
        return [Step(obj.id, "create", detail, obj.ddl)]
    drifted = row is not None and row.fingerprint != now
    changed = row is not None and row.sha256 != obj.sha256
    steps: list[Step] = []
    if drifted and row is not None:
        steps.append(
            Step(
                obj.id,
                "drift",
                f"{what} was changed by hand since the last deploy ({row.deployed_at})",
                drift=True,
            )
        )
    only_drift = drifted and not changed
    if obj.kind == "table":
        table = catalog.tables[(obj.schema, obj.name)]
        migration = _migrate_table(obj, table, types)
        steps += [_mark(s, only_drift) for s in migration]
        if not migration:
            reason = (
                "DDL changed; the table already matches it"
                if changed
                else "already as declared"
                if row is None
                else "ledger updated"
            )
            steps.append(Step(obj.id, "record", f"{what}: {reason}"))
    elif obj.kind == "schema":
        steps.append(Step(obj.id, "record", f"{what}: already exists"))
    elif obj.kind == "function":
        reason = (
            "definition changed"
            if changed
            else "restores the declared definition"
            if drifted
            else "not in the ledger yet: (re)defined"
        )
        steps.append(Step(obj.id, "replace", f"{what}: {reason}", obj.ddl, drift=only_drift))
    elif obj.kind == "trigger":
        reason = (
            "definition changed"
            if changed
            else "restores the declared trigger"
            if drifted
            else "not in the ledger yet: re-created"
        )
        steps.append(
            Step(
                obj.id,
                "drop trigger",
                f"{what}: {reason}",
                _drop_trigger(obj.schema, obj.name, obj.table or ""),
                drift=only_drift,
            )
        )
        steps.append(Step(obj.id, "create", f"{what}: {reason}", obj.ddl, drift=only_drift))
    return steps


def _drop_trigger(schema: str, name: str, table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {quote(name)} ON {qualified(schema, table)}"


def _mark(step: Step, drift: bool) -> Step:
    if not drift or step.drift:
        return step
    return Step(step.object_id, step.action, step.detail, step.sql, True, step.destructive)


def _describe(obj: WarehouseObject) -> str:
    if obj.kind == "schema":
        return f"schema {obj.name}"
    if obj.kind == "trigger":
        return f"trigger {obj.name} on {obj.schema}.{obj.table}"
    layer = f"{obj.layer} " if obj.kind == "table" and obj.layer else ""
    return f"{layer}{obj.kind} {obj.schema}.{obj.name}"


def _migrate_table(obj: WarehouseObject, table: ObservedTable, types: Types) -> list[Step]:
    steps: list[Step] = []
    name = qualified(obj.schema, obj.name)
    label = f"table {obj.schema}.{obj.name}"
    declared = {c.name for c in obj.columns}
    for column in obj.columns:
        is_serial = column.type.strip().lower() in SERIALS
        want = types.resolved[(_base(column.type), _default(column))]
        have = table.column(column.name)
        col = quote(column.name)
        where = f"{label}, column {column.name}"
        if have is None:
            sql = f"ALTER TABLE {name} ADD COLUMN {col} {column.type}"
            if column.default is not None:
                sql += f" DEFAULT {column.default}"
            if not column.nullable:
                sql += " NOT NULL"
            steps.append(
                Step(
                    obj.id,
                    "add column",
                    f"{where}: {column.type}" + ("" if column.nullable else " NOT NULL"),
                    sql,
                )
            )
            continue
        if want.type != have.type:
            alter = f"ALTER TABLE {name} ALTER COLUMN {col} TYPE {_base(column.type)}"
            if widens(have, want):
                steps.append(
                    Step(
                        obj.id,
                        "alter type",
                        f"{where}: {have.type} → {want.type} (widening, data kept)",
                        alter,
                    )
                )
            else:
                steps.append(
                    Step(
                        obj.id,
                        "alter type",
                        f"{where}: {have.type} → {want.type} "
                        "narrows or converts the type (values may not fit)",
                        f"{alter} USING {col}::{_base(column.type)}",
                        destructive=True,
                    )
                )
        if not is_serial and want.default != have.default:
            if want.default is None:
                steps.append(
                    Step(
                        obj.id,
                        "drop default",
                        f"{where}: no default (was {have.default})",
                        f"ALTER TABLE {name} ALTER COLUMN {col} DROP DEFAULT",
                    )
                )
            else:
                steps.append(
                    Step(
                        obj.id,
                        "set default",
                        f"{where}: default {column.default}"
                        + (f" (was {have.default})" if have.default else ""),
                        f"ALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {column.default}",
                    )
                )
        if not column.nullable and not have.notnull:
            steps.append(
                Step(
                    obj.id,
                    "set not null",
                    f"{where}: NOT NULL",
                    f"ALTER TABLE {name} ALTER COLUMN {col} SET NOT NULL",
                )
            )
        elif column.nullable and have.notnull:
            steps.append(
                Step(
                    obj.id,
                    "drop not null",
                    f"{where}: nullable",
                    f"ALTER TABLE {name} ALTER COLUMN {col} DROP NOT NULL",
                )
            )
    for have in table.columns:
        if have.name not in declared:
            steps.append(
                Step(
                    obj.id,
                    "drop column",
                    f"{label}, column {have.name} is no longer "
                    "declared: dropping it deletes its values",
                    f"ALTER TABLE {name} DROP COLUMN {quote(have.name)}",
                    destructive=True,
                )
            )
    if tuple(obj.key) != tuple(table.key):
        if table.key_name:
            steps.append(
                Step(
                    obj.id,
                    "drop key",
                    f"{label}: primary key ({', '.join(table.key)}) replaced",
                    f"ALTER TABLE {name} DROP CONSTRAINT {quote(table.key_name)}",
                )
            )
        if obj.key:
            steps.append(
                Step(
                    obj.id,
                    "add key",
                    f"{label}: primary key ({', '.join(obj.key)})",
                    f"ALTER TABLE {name} ADD PRIMARY KEY ({', '.join(quote(k) for k in obj.key)})",
                )
            )
    return steps


# --- type changes ------------------------------------------------------------------------------

_INTEGER_DIGITS = {"int2": 5, "int4": 10, "int8": 19}
_TIMES = {"timestamp", "timestamptz", "time", "timetz"}


def _length(typmod: int) -> int | None:
    """varchar/bpchar length; None when unbounded."""
    return typmod - 4 if typmod >= 4 else None


def _numeric(typmod: int) -> tuple[int, int] | None:
    """numeric (precision, scale); None when unconstrained."""
    if typmod < 4:
        return None
    value = typmod - 4
    return (value >> 16) & 0xFFFF, value & 0xFFFF


def widens(have: ObservedColumn | ResolvedType, want: ObservedColumn | ResolvedType) -> bool:
    """Whether every value of type `have` converts to `want` unchanged: varchar(n) →
    varchar(m ≥ n), smaller → larger integers, numeric with no fewer integer digits and no
    smaller scale, real → double precision, more fractional seconds, anything → text."""
    old, new = have.typname, want.typname
    if new == "text":
        return True
    if old == new == "varchar":
        before, after = _length(have.typmod), _length(want.typmod)
        return after is None or (before is not None and after >= before)
    if old in _INTEGER_DIGITS and new in _INTEGER_DIGITS:
        return _INTEGER_DIGITS[new] >= _INTEGER_DIGITS[old]
    if new == "numeric" and old in _INTEGER_DIGITS:
        shape = _numeric(want.typmod)
        return shape is None or shape[0] - shape[1] >= _INTEGER_DIGITS[old]
    if old == new == "numeric":
        before, after = _numeric(have.typmod), _numeric(want.typmod)
        if after is None:
            return True
        if before is None:
            return False
        return after[1] >= before[1] and after[0] - after[1] >= before[0] - before[1]
    if (old, new) == ("float4", "float8"):
        return True
    if old == new and old in _TIMES:
        before = 6 if have.typmod < 0 else have.typmod
        after = 6 if want.typmod < 0 else want.typmod
        return after >= before
    return False
