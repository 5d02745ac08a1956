"""SQL Server column types: parsing, the PostgreSQL type they land as, and how their values
travel (a T-SQL expression that renders each value exactly, and the matching PostgreSQL cast).

Exact numerics, dates and times travel as strings (JSON numbers would lose precision), binary
values as `0x…` hex. An unknown type is an error, never a silent `text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TYPE = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9_ ]*?)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")


class TypeProblem(ValueError):
    """A type that cannot be parsed or mapped; the message says why and what is allowed."""


@dataclass(frozen=True)
class MssqlType:
    name: str  # lowercased base name, e.g. "nvarchar"
    args: tuple[str, ...] = ()  # e.g. ("100",), ("max",), ("18", "2")

    def __str__(self) -> str:
        return f"{self.name}({','.join(self.args)})" if self.args else self.name

    @property
    def is_binary(self) -> bool:
        return self.name in _BINARY


_NO_ARGS = {
    "bit": "boolean", "tinyint": "smallint", "smallint": "smallint", "int": "integer",
    "bigint": "bigint", "money": "numeric(19,4)", "smallmoney": "numeric(10,4)", "real": "real",
    "date": "date", "datetime": "timestamp(3)", "smalldatetime": "timestamp(0)", "text": "text",
    "ntext": "text", "image": "bytea", "uniqueidentifier": "uuid", "xml": "xml",
    "rowversion": "bytea", "timestamp": "bytea", "sysname": "varchar(128)", "sql_variant": "text",
    "hierarchyid": "text", "geography": "bytea", "geometry": "bytea",
}
_BINARY = {"binary", "varbinary", "image", "rowversion", "timestamp", "geography", "geometry"}
_STRING_LIMITS = {"char": 8000, "varchar": 8000, "nchar": 4000, "nvarchar": 4000,
                  "binary": 8000, "varbinary": 8000}
_FRACTIONAL = {"time": "time", "datetime2": "timestamp", "datetimeoffset": "timestamptz"}
KNOWN = sorted({*_NO_ARGS, *_STRING_LIMITS, *_FRACTIONAL, "decimal", "numeric", "float"})


def parse(text: str) -> MssqlType:
    match = _TYPE.match(str(text))
    if not match:
        raise TypeProblem(f"{text!r} is not a SQL Server type — write it as e.g. nvarchar(100)")
    name = " ".join(match.group(1).lower().split())
    if name == "double precision":
        name = "float"
    args = tuple(a.strip().lower() for a in match.group(2).split(",")) if match.group(2) else ()
    return MssqlType(name, args)


def _int(value: str, low: int, high: int, what: str, t: MssqlType) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise TypeProblem(f"{t}: {what} must be a whole number from {low} to {high}")
    return int(value)


def postgres_type(t: MssqlType) -> str:
    """The PostgreSQL type for `t`, keeping length, precision and scale."""
    name, args = t.name, t.args
    if name in _NO_ARGS:
        if args:
            raise TypeProblem(f"{t}: {name} takes no length or precision")
        return _NO_ARGS[name]
    if name in ("decimal", "numeric"):
        if len(args) > 2:
            raise TypeProblem(f"{t}: {name} takes (precision[, scale])")
        precision = _int(args[0], 1, 38, "precision", t) if args else 18
        scale = _int(args[1], 0, precision, "scale", t) if len(args) == 2 else 0
        return f"numeric({precision},{scale})"
    if name == "float":
        if len(args) > 1:
            raise TypeProblem(f"{t}: float takes at most one argument, the mantissa bits")
        bits = _int(args[0], 1, 53, "the mantissa bits", t) if args else 53
        return "real" if bits <= 24 else "double precision"
    if name in _FRACTIONAL:
        if len(args) > 1:
            raise TypeProblem(f"{t}: {name} takes at most one argument, the fractional precision")
        precision = _int(args[0], 0, 7, "fractional precision", t) if args else 7
        return f"{_FRACTIONAL[name]}({min(precision, 6)})"
    if name in _STRING_LIMITS:
        if len(args) > 1:
            raise TypeProblem(f"{t}: {name} takes one length")
        if args and args[0] == "max":
            if name in ("char", "nchar", "binary"):
                instead = {"char": "varchar", "nchar": "nvarchar", "binary": "varbinary"}[name]
                raise TypeProblem(f"{t}: {name}(max) does not exist; use {instead}(max)")
            return "bytea" if name == "varbinary" else "text"
        length = _int(args[0], 1, _STRING_LIMITS[name], "length", t) if args else 1
        if name in ("binary", "varbinary"):
            return "bytea"
        return f"char({length})" if name in ("char", "nchar") else f"varchar({length})"
    raise TypeProblem(f"unknown SQL Server type {t.name!r} — known types: {', '.join(KNOWN)}; "
                      "or set target_type for the column")


def source_expression(column_sql: str, t: MssqlType) -> str:
    """A T-SQL expression rendering the column's value losslessly for JSON transport."""
    name = t.name
    if name in ("decimal", "numeric", "money", "smallmoney"):
        return f"CONVERT(varchar(50), {column_sql})"
    if name == "date":
        return f"CONVERT(char(10), {column_sql}, 23)"
    if name == "time":
        return f"CONVERT(varchar(16), {column_sql})"
    if name in ("datetime", "datetime2", "smalldatetime"):
        return f"CONVERT(varchar(27), {column_sql}, 126)"
    if name == "datetimeoffset":
        return f"CONVERT(varchar(34), {column_sql}, 127)"
    if name in ("geography", "geometry"):
        return f"CONVERT(varchar(max), {column_sql}.STAsBinary(), 1)"
    if name in _BINARY:
        return f"CONVERT(varchar(max), {column_sql}, 1)"
    if name == "uniqueidentifier":
        return f"CONVERT(char(36), {column_sql})"
    if name in ("xml", "sql_variant"):
        return f"CONVERT(nvarchar(max), {column_sql})"
    if name == "hierarchyid":
        return f"{column_sql}.ToString()"
    return column_sql


def sink_expression(placeholder: str, source: MssqlType, target_type: str) -> str:
    """The PostgreSQL expression turning a transported value into the target column's type."""
    if source.is_binary and target_type == "bytea":
        return f"decode(substr({placeholder}, 3), 'hex')"
    return f"CAST({placeholder} AS {target_type})"
