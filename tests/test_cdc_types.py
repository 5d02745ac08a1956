"""The SQL Server → PostgreSQL type map, keeping length, precision and scale."""

from __future__ import annotations

import pytest

from dataplatform.cdc.types import TypeProblem, parse, postgres_type

MAP = {
    "bit": "boolean", "tinyint": "smallint", "smallint": "smallint", "int": "integer",
    "bigint": "bigint", "decimal(18,2)": "numeric(18,2)", "numeric(10, 0)": "numeric(10,0)",
    "decimal": "numeric(18,0)", "numeric": "numeric(18,0)", "decimal(9)": "numeric(9,0)",
    "money": "numeric(19,4)", "smallmoney": "numeric(10,4)", "float(24)": "real",
    "float(25)": "double precision", "float": "double precision", "real": "real",
    "date": "date", "time(3)": "time(3)", "time": "time(6)", "datetime2(7)": "timestamp(6)",
    "datetime2(0)": "timestamp(0)", "datetime": "timestamp(3)", "smalldatetime": "timestamp(0)",
    "datetimeoffset(2)": "timestamptz(2)", "datetimeoffset": "timestamptz(6)",
    "char(10)": "char(10)", "nchar(3)": "char(3)", "varchar(50)": "varchar(50)",
    "nvarchar(100)": "varchar(100)", "NVARCHAR(MAX)": "text", "varchar(max)": "text",
    "text": "text", "ntext": "text", "binary(16)": "bytea", "varbinary(20)": "bytea",
    "varbinary(max)": "bytea", "image": "bytea", "uniqueidentifier": "uuid", "xml": "xml",
    "rowversion": "bytea", "timestamp": "bytea", "sysname": "varchar(128)",
    "sql_variant": "text", "hierarchyid": "text", "geography": "bytea", "geometry": "bytea",
}


@pytest.mark.parametrize(("source", "target"), sorted(MAP.items()))
def test_type_map(source: str, target: str) -> None:
    assert postgres_type(parse(source)) == target


@pytest.mark.parametrize(("source", "problem"), [
    ("money2", "unknown SQL Server type 'money2'"),
    ("decimal(40,2)", "precision must be a whole number from 1 to 38"),
    ("decimal(5,6)", "scale must be a whole number from 0 to 5"),
    ("nvarchar(5000)", "length must be a whole number from 1 to 4000"),
    ("datetime2(8)", "fractional precision must be a whole number from 0 to 7"),
    ("int(4)", "int takes no length or precision"),
    ("char(max)", "char(max) does not exist; use varchar(max)"),
])
def test_bad_types_are_errors_not_text(source: str, problem: str) -> None:
    with pytest.raises(TypeProblem, match=problem.replace("(", r"\(").replace(")", r"\)")):
        postgres_type(parse(source))
