"""SQL Server column types: one record per type (`RECORDS`), and what the generators read from
it — the PostgreSQL type a column lands as, the T-SQL expression that reads its values
losslessly, how the sink casts a value from the message, and the README's type table.

Exact numerics, dates and times travel as strings (JSON numbers would lose precision), binary
values as `0x…` hex. An unknown type is an error, never a silent `text`.

Adding a type is one `TypeRecord` in `RECORDS`, with sample values: the tests run every sample
through PostgreSQL and DuckDB, the golden-output test (`tests/test_cdc_golden.py`) wants a
column of it, and `tests/test_cdc_types.py` shows the README table to paste.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TYPE = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9_ ]*?)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")


class TypeProblem(ValueError):
    """A type that cannot be parsed or mapped; the message says why and what is allowed."""


# How a type's arguments are read (the shape of its PostgreSQL type).
FIXED = "fixed"  # no arguments: `postgres` is the type
DECIMAL = "decimal"  # (precision[, scale]): `postgres` formats {precision} and {scale}
FLOAT = "float"  # (mantissa bits): `postgres` up to 24 bits, `wide` above
FRACTIONAL = "fractional"  # (fractional precision 0-7): `postgres` formats {precision} ≤ 6
LENGTH = "length"  # (n | max): `postgres` formats {length}; `wide` for (max)

# How a value travels in the message (what the source query's expression returns).
NUMBER = "number"  # a JSON number
BOOLEAN = "boolean"  # a JSON boolean
TEXT = "text"  # a JSON string, cast by PostgreSQL
HEX = "hex"  # a `0x…` string; decoded when the column is bytea


@dataclass(frozen=True)
class Sample:
    """A value of a type, for the tests: the declared type, the PostgreSQL type it lands as,
    the value as it travels in the message, and what PostgreSQL then holds (as `::text`)."""

    declared: str
    postgres: str
    message: Any
    stored: str


@dataclass(frozen=True)
class TypeRecord:
    """Everything the generators know about one SQL Server type."""

    name: str  # lowercased, as SQL Server spells it
    postgres: str  # the PostgreSQL type (a format string for the shapes with arguments)
    travels_as: str  # NUMBER, BOOLEAN, TEXT or HEX
    samples: tuple[Sample, ...] = ()  # at least one: the tests run each through the engines
    shape: str = FIXED
    read: str = "{}"  # T-SQL reading the column `{}` losslessly for JSON
    aliases: tuple[str, ...] = ()  # other spellings SQL Server accepts for it
    numeric: bool = False  # its values are written bare in T-SQL (a tenant filter)
    wide: str | None = None  # FLOAT: over 24 bits; LENGTH: (max) (None: no (max))
    limit: int = 0  # LENGTH: the longest n
    default: int = 0  # the argument when none is given (DECIMAL: precision)
    instead: str = ""  # LENGTH without (max): the type to use for (max)

    def postgres_type(self, t: MssqlType) -> str:
        return _SHAPES[self.shape](self, t)

    @property
    def rule(self) -> str:
        """The PostgreSQL side as the README states it."""
        if self.shape == DECIMAL:
            return f"{self.postgres.format(precision='p', scale='s')} ({self.default},0 by default)"
        if self.shape == FLOAT:
            return (
                f"{self.postgres} for {self.name}(1–24), else {self.wide} "
                f"({self.name} alone is {self.name}({self.default}))"
            )
        if self.shape == FRACTIONAL:
            return f"{self.postgres.format(precision='min(p,6)')} ({self.default} by default)"
        if self.shape == LENGTH:
            wide = f"; (max) → {self.wide}" if self.wide else ""
            return f"{self.postgres.format(length='n')} (n ≤ {self.limit}, 1 by default){wide}"
        return self.postgres


@dataclass(frozen=True)
class MssqlType:
    name: str  # lowercased base name, e.g. "nvarchar"
    args: tuple[str, ...] = ()  # e.g. ("100",), ("max",), ("18", "2")

    def __str__(self) -> str:
        return f"{self.name}({','.join(self.args)})" if self.args else self.name

    @property
    def record(self) -> TypeRecord | None:
        return BY_NAME.get(self.name)

    @property
    def is_binary(self) -> bool:
        return self.record is not None and self.record.travels_as == HEX

    @property
    def is_numeric(self) -> bool:
        return self.record is not None and self.record.numeric


def _int(value: str, low: int, high: int, what: str, t: MssqlType) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise TypeProblem(f"{t}: {what} must be a whole number from {low} to {high}")
    return int(value)


def _fixed(record: TypeRecord, t: MssqlType) -> str:
    if t.args:
        raise TypeProblem(f"{t}: {t.name} takes no length or precision")
    return record.postgres


def _decimal(record: TypeRecord, t: MssqlType) -> str:
    if len(t.args) > 2:
        raise TypeProblem(f"{t}: {t.name} takes (precision[, scale])")
    precision = _int(t.args[0], 1, 38, "precision", t) if t.args else record.default
    scale = _int(t.args[1], 0, precision, "scale", t) if len(t.args) == 2 else 0
    return record.postgres.format(precision=precision, scale=scale)


def _float(record: TypeRecord, t: MssqlType) -> str:
    if len(t.args) > 1:
        raise TypeProblem(f"{t}: {t.name} takes at most one argument, the mantissa bits")
    bits = _int(t.args[0], 1, 53, "the mantissa bits", t) if t.args else record.default
    return record.postgres if bits <= 24 else str(record.wide)


def _fractional(record: TypeRecord, t: MssqlType) -> str:
    if len(t.args) > 1:
        raise TypeProblem(f"{t}: {t.name} takes at most one argument, the fractional precision")
    precision = _int(t.args[0], 0, 7, "fractional precision", t) if t.args else record.default
    return record.postgres.format(precision=min(precision, 6))


def _length(record: TypeRecord, t: MssqlType) -> str:
    if len(t.args) > 1:
        raise TypeProblem(f"{t}: {t.name} takes one length")
    if t.args and t.args[0] == "max":
        if record.wide is None:
            raise TypeProblem(f"{t}: {t.name}(max) does not exist; use {record.instead}(max)")
        return record.wide
    length = _int(t.args[0], 1, record.limit, "length", t) if t.args else 1
    return record.postgres.format(length=length)


_SHAPES = {
    FIXED: _fixed,
    DECIMAL: _decimal,
    FLOAT: _float,
    FRACTIONAL: _fractional,
    LENGTH: _length,
}

_EXACT = "CONVERT(varchar(50), {})"
# money with style 2: four decimals (the default style 0 rounds to two, losing cents' parts).
_MONEY = "CONVERT(varchar(50), {}, 2)"
_DATETIME = "CONVERT(varchar(27), {}, 126)"
_BINARY = "CONVERT(varchar(max), {}, 1)"
_SPATIAL = "CONVERT(varchar(max), {}.STAsBinary(), 1)"
_UNICODE = "CONVERT(nvarchar(max), {})"
_S = Sample

RECORDS: tuple[TypeRecord, ...] = (
    TypeRecord(
        "bit", "boolean", BOOLEAN, numeric=True, samples=(_S("bit", "boolean", True, "true"),)
    ),
    TypeRecord(
        "tinyint",
        "smallint",
        NUMBER,
        numeric=True,
        samples=(_S("tinyint", "smallint", 255, "255"),),
    ),
    TypeRecord(
        "smallint",
        "smallint",
        NUMBER,
        numeric=True,
        samples=(_S("smallint", "smallint", -32768, "-32768"),),
    ),
    TypeRecord(
        "int",
        "integer",
        NUMBER,
        numeric=True,
        samples=(_S("int", "integer", 2147483647, "2147483647"),),
    ),
    TypeRecord(
        "bigint",
        "bigint",
        NUMBER,
        numeric=True,
        samples=(_S("bigint", "bigint", -9223372036854775808, "-9223372036854775808"),),
    ),
    TypeRecord(
        "decimal",
        "numeric({precision},{scale})",
        TEXT,
        shape=DECIMAL,
        read=_EXACT,
        numeric=True,
        default=18,
        samples=(
            _S(
                "decimal(38,10)",
                "numeric(38,10)",
                "1234567890123456789012345678.0123456789",
                "1234567890123456789012345678.0123456789",
            ),
            _S("decimal", "numeric(18,0)", "-999999999999999999", "-999999999999999999"),
        ),
    ),
    TypeRecord(
        "numeric",
        "numeric({precision},{scale})",
        TEXT,
        shape=DECIMAL,
        read=_EXACT,
        numeric=True,
        default=18,
        samples=(_S("numeric(9,2)", "numeric(9,2)", "1234567.89", "1234567.89"),),
    ),
    TypeRecord(
        "money",
        "numeric(19,4)",
        TEXT,
        read=_MONEY,
        samples=(_S("money", "numeric(19,4)", "922337203685477.5807", "922337203685477.5807"),),
    ),
    TypeRecord(
        "smallmoney",
        "numeric(10,4)",
        TEXT,
        read=_MONEY,
        samples=(_S("smallmoney", "numeric(10,4)", "-214748.3648", "-214748.3648"),),
    ),
    TypeRecord(
        "float",
        "real",
        NUMBER,
        shape=FLOAT,
        aliases=("double precision",),
        wide="double precision",
        default=53,
        samples=(
            _S("float", "double precision", 1.5e300, "1.5e+300"),
            _S("float(24)", "real", 0.5, "0.5"),
        ),
    ),
    TypeRecord("real", "real", NUMBER, samples=(_S("real", "real", 3.25, "3.25"),)),
    TypeRecord(
        "date",
        "date",
        TEXT,
        read="CONVERT(char(10), {}, 23)",
        samples=(_S("date", "date", "2026-11-20", "2026-11-20"),),
    ),
    TypeRecord(
        "time",
        "time({precision})",
        TEXT,
        shape=FRACTIONAL,
        read="CONVERT(varchar(16), {})",
        default=7,
        samples=(
            _S("time(3)", "time(3)", "23:59:58.123", "23:59:58.123"),
            _S("time", "time(6)", "23:59:58.1234567", "23:59:58.123457"),
        ),
    ),
    TypeRecord(
        "datetime",
        "timestamp(3)",
        TEXT,
        read=_DATETIME,
        samples=(
            _S("datetime", "timestamp(3)", "2026-01-02T03:04:05.677", "2026-01-02 03:04:05.677"),
        ),
    ),
    TypeRecord(
        "datetime2",
        "timestamp({precision})",
        TEXT,
        shape=FRACTIONAL,
        read=_DATETIME,
        default=7,
        samples=(
            _S(
                "datetime2(7)",
                "timestamp(6)",
                "2026-01-02T03:04:05.1234567",
                "2026-01-02 03:04:05.123457",
            ),
            _S("datetime2(0)", "timestamp(0)", "2026-01-02T03:04:05", "2026-01-02 03:04:05"),
        ),
    ),
    TypeRecord(
        "smalldatetime",
        "timestamp(0)",
        TEXT,
        read=_DATETIME,
        samples=(
            _S("smalldatetime", "timestamp(0)", "2026-01-02T03:04:00", "2026-01-02 03:04:00"),
        ),
    ),
    TypeRecord(
        "datetimeoffset",
        "timestamptz({precision})",
        TEXT,
        shape=FRACTIONAL,
        read="CONVERT(varchar(34), {}, 127)",
        default=7,
        samples=(
            _S(
                "datetimeoffset(2)",
                "timestamptz(2)",
                "2026-01-02T03:04:05.12+02:00",
                "2026-01-02 01:04:05.12+00",
            ),
        ),
    ),
    TypeRecord(
        "char",
        "char({length})",
        TEXT,
        shape=LENGTH,
        limit=8000,
        instead="varchar",
        samples=(_S("char(5)", "char(5)", "ab   ", "ab"),),
    ),
    TypeRecord(
        "varchar",
        "varchar({length})",
        TEXT,
        shape=LENGTH,
        limit=8000,
        wide="text",
        samples=(
            _S("varchar(20)", "varchar(20)", 'it\'s; "quoted"', 'it\'s; "quoted"'),
            _S("varchar(max)", "text", "long " * 3, "long " * 3),
        ),
    ),
    TypeRecord(
        "nchar",
        "char({length})",
        TEXT,
        shape=LENGTH,
        limit=4000,
        instead="nvarchar",
        samples=(_S("nchar(3)", "char(3)", "Åøé", "Åøé"),),
    ),
    TypeRecord(
        "nvarchar",
        "varchar({length})",
        TEXT,
        shape=LENGTH,
        limit=4000,
        wide="text",
        samples=(
            _S("nvarchar(10)", "varchar(10)", "Fraværs✓", "Fraværs✓"),
            _S("nvarchar(max)", "text", "日本語 text", "日本語 text"),
        ),
    ),
    TypeRecord("text", "text", TEXT, samples=(_S("text", "text", "plain", "plain"),)),
    TypeRecord("ntext", "text", TEXT, samples=(_S("ntext", "text", "Ærlig", "Ærlig"),)),
    TypeRecord(
        "binary",
        "bytea",
        HEX,
        shape=LENGTH,
        read=_BINARY,
        limit=8000,
        instead="varbinary",
        samples=(_S("binary(4)", "bytea", "0x00FF10AB", "\\x00ff10ab"),),
    ),
    TypeRecord(
        "varbinary",
        "bytea",
        HEX,
        shape=LENGTH,
        read=_BINARY,
        limit=8000,
        wide="bytea",
        samples=(
            _S("varbinary(8)", "bytea", "0xDEADBEEF", "\\xdeadbeef"),
            _S("varbinary(max)", "bytea", "0x", "\\x"),
        ),
    ),
    TypeRecord(
        "image",
        "bytea",
        HEX,
        read=_BINARY,
        samples=(_S("image", "bytea", "0x89504E47", "\\x89504e47"),),
    ),
    TypeRecord(
        "uniqueidentifier",
        "uuid",
        TEXT,
        read="CONVERT(char(36), {})",
        samples=(
            _S(
                "uniqueidentifier",
                "uuid",
                "6F1C2A4E-8D1B-4C55-9A7E-3B2F0C9D1E01",
                "6f1c2a4e-8d1b-4c55-9a7e-3b2f0c9d1e01",
            ),
        ),
    ),
    TypeRecord(
        "xml",
        "xml",
        TEXT,
        read=_UNICODE,
        samples=(_S("xml", "xml", '<a b="1">x</a>', '<a b="1">x</a>'),),
    ),
    TypeRecord(
        "rowversion",
        "bytea",
        HEX,
        read=_BINARY,
        samples=(_S("rowversion", "bytea", "0x00000000000007D1", "\\x00000000000007d1"),),
    ),
    TypeRecord(
        "timestamp",
        "bytea",
        HEX,
        read=_BINARY,
        samples=(_S("timestamp", "bytea", "0x00000000000007D2", "\\x00000000000007d2"),),
    ),
    TypeRecord(
        "sysname", "varchar(128)", TEXT, samples=(_S("sysname", "varchar(128)", "dbo", "dbo"),)
    ),
    TypeRecord(
        "sql_variant", "text", TEXT, read=_UNICODE, samples=(_S("sql_variant", "text", "42", "42"),)
    ),
    TypeRecord(
        "hierarchyid",
        "text",
        TEXT,
        read="{}.ToString()",
        samples=(_S("hierarchyid", "text", "/1/3/", "/1/3/"),),
    ),
    TypeRecord(
        "geography",
        "bytea",
        HEX,
        read=_SPATIAL,
        samples=(
            _S(
                "geography",
                "bytea",
                "0x0101000000000000000000F03F0000000000000040",
                "\\x0101000000000000000000f03f0000000000000040",
            ),
        ),
    ),
    TypeRecord(
        "geometry",
        "bytea",
        HEX,
        read=_SPATIAL,
        samples=(
            _S(
                "geometry",
                "bytea",
                "0x010100000000000000000000000000000000000000",
                "\\x010100000000000000000000000000000000000000",
            ),
        ),
    ),
)
BY_NAME = {record.name: record for record in RECORDS}
_ALIASES = {alias: record.name for record in RECORDS for alias in record.aliases}
KNOWN = sorted(BY_NAME)


def parse(text: str) -> MssqlType:
    match = _TYPE.match(str(text))
    if not match:
        raise TypeProblem(f"{text!r} is not a SQL Server type — write it as e.g. nvarchar(100)")
    name = " ".join(match.group(1).lower().split())
    name = _ALIASES.get(name, name)
    args = tuple(a.strip().lower() for a in match.group(2).split(",")) if match.group(2) else ()
    return MssqlType(name, args)


def postgres_type(t: MssqlType) -> str:
    """The PostgreSQL type for `t`, keeping length, precision and scale."""
    if t.record is None:
        raise TypeProblem(
            f"unknown SQL Server type {t.name!r} — known types: "
            f"{', '.join(KNOWN)}; or set target_type for the column"
        )
    return t.record.postgres_type(t)


def source_expression(column_sql: str, t: MssqlType) -> str:
    """A T-SQL expression rendering the column's value losslessly for JSON transport."""
    return t.record.read.format(column_sql) if t.record else column_sql


def sink_expression(placeholder: str, source: MssqlType, target_type: str) -> str:
    """The PostgreSQL expression turning a transported value into the target column's type."""
    return cast_from_message(placeholder, HEX if source.is_binary else TEXT, target_type)


def cast_from_message(placeholder: str, travels_as: str, target_type: str) -> str:
    """How the sink turns a message value that travels as `travels_as` into `target_type`
    (every parameter reaches PostgreSQL as text; `0x…` hex becomes bytes)."""
    if travels_as == HEX and target_type == "bytea":
        return f"decode(substr({placeholder}, 3), 'hex')"
    return f"CAST({placeholder} AS {target_type})"


def readme_table() -> str:
    """The README's type table (Markdown), one row per record."""
    from dataplatform.cdc.dbt_staging import duckdb_type  # dbt_staging imports this module

    how = {NUMBER: "JSON number", BOOLEAN: "JSON boolean", TEXT: "string", HEX: "`0x…` hex"}
    rows = ["| SQL Server | PostgreSQL | DuckDB (dbt) | travels as |", "|---|---|---|---|"]
    for record in RECORDS:
        names = " / ".join([record.name, *record.aliases])
        sample = record.samples[0]
        duckdb = duckdb_type(sample.postgres)
        if record.shape != FIXED:
            duckdb = f"{duckdb} (for {sample.declared})"
        rows.append(f"| {names} | {record.rule} | {duckdb} | {how[record.travels_as]} |")
    return "\n".join(rows) + "\n"
