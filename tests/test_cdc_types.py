"""SQL Server types, from their records (`dataplatform.cdc.types.RECORDS`): every sample maps
to its PostgreSQL type, lands through the generated DDL and sink statement on a real
PostgreSQL with the expected value, and its DuckDB landing column and dbt staging cast work on
a real DuckDB; bad types are errors; the README's type table is the records' rendering; the
metadata columns agree between engines.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from dataplatform.cdc import connect, dbt_staging, metadata, statements
from dataplatform.cdc.model import (
    PER_TENANT,
    CdcPipeline,
    Column,
    Database,
    Server,
    SourceGroup,
    Table,
)
from dataplatform.cdc.types import HEX, RECORDS, TypeProblem, parse, postgres_type, readme_table
from dataplatform.warehouse import render as warehouse
from support import REPO, require_dbt_extra
from support.cdc import apply_change

SAMPLES = [(record, sample) for record in RECORDS for sample in record.samples]
TABLE_BEGIN, TABLE_END = "<!-- cdc-types:begin -->\n", "<!-- cdc-types:end -->"


def sample_id(value: object) -> str:
    return getattr(value, "declared", getattr(value, "name", str(value)))


@pytest.mark.parametrize(("record", "sample"), SAMPLES, ids=sample_id)
def test_every_sample_maps_to_its_postgres_type(record, sample) -> None:
    assert parse(sample.declared).record is record
    assert postgres_type(parse(sample.declared)) == sample.postgres


def test_every_type_has_a_sample() -> None:
    assert [r.name for r in RECORDS if not r.samples] == []


@pytest.mark.parametrize(
    ("spelling", "target"),
    [
        ("NVARCHAR(MAX)", "text"),
        ("numeric(10, 0)", "numeric(10,0)"),
        ("decimal(9)", "numeric(9,0)"),
        ("double precision", "double precision"),
        ("  Float ( 25 ) ", "double precision"),
        ("nvarchar", "varchar(1)"),
        ("datetimeoffset", "timestamptz(6)"),
    ],
)
def test_spellings(spelling: str, target: str) -> None:
    assert postgres_type(parse(spelling)) == target


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("money2", "unknown SQL Server type 'money2'"),
        ("decimal(40,2)", "precision must be a whole number from 1 to 38"),
        ("decimal(5,6)", "scale must be a whole number from 0 to 5"),
        ("nvarchar(5000)", "length must be a whole number from 1 to 4000"),
        ("datetime2(8)", "fractional precision must be a whole number from 0 to 7"),
        ("int(4)", "int takes no length or precision"),
        ("char(max)", "char(max) does not exist; use varchar(max)"),
        ("float(54)", "the mantissa bits must be a whole number from 1 to 53"),
    ],
)
def test_bad_types_are_errors_not_text(source: str, problem: str) -> None:
    with pytest.raises(TypeProblem, match=re.escape(problem)):
        postgres_type(parse(source))


def test_money_is_read_with_its_four_decimals() -> None:
    """SQL Server cannot run here (no image offline), so this reads the generated T-SQL: CONVERT
    of money to varchar with the default style 0 rounds to two decimals (SQL Server's CAST and
    CONVERT documentation, money styles: 0 → 4235.98, 2 → 4235.9819); before the fix a money
    value 1.2345 arrived as 1.23. Every money column must be read with style 2."""
    pipeline, table = samples_pipeline()
    query = statements.source_query(statements.environment(REPO / "templates"), pipeline, table)
    money = [c for c in table.columns if c.source_type.name in ("money", "smallmoney")]
    assert money
    for column in money:
        assert f"CONVERT(varchar(50), c.[{column.name}], 2) AS [{column.name}]" in query


def samples_pipeline() -> tuple[CdcPipeline, Table]:
    """One table with a column per sample (`c0`, `c1`, …), typed as the loader types them."""
    server = Server("main", "mssql", "1433", "${USER}", "${PASSWORD}")
    group = SourceGroup("shop", PER_TENANT, (Database("north", "prod", server, "Shop", "north"),))
    columns = [Column("Id", parse("int"), "integer", False)]
    for index, (_, sample) in enumerate(SAMPLES):
        t = parse(sample.declared)
        columns.append(Column(f"c{index}", t, postgres_type(t), True))
    table = Table("dbo", "Samples", tuple(columns), ("Id",), "dbo_Samples", "samples")
    return CdcPipeline("samples", group, "samples", "tenant_id", (table,), "test"), table


@pytest.mark.postgres
def test_every_sample_lands_on_postgresql_as_expected(pg_database) -> None:
    """The replica's DDL from the warehouse generator, the sink's own statement and
    `args_mapping`, the sample's message value sent as text as the driver sends it."""
    pipeline, table = samples_pipeline()
    objects = warehouse.build("samples", warehouse.cdc_tables(pipeline, {}), REPO)
    files = warehouse.sql_files(objects)
    sink = connect.sink_config(
        pipeline,
        "prod",
        {
            table.qualified: statements.sink_statement(
                statements.environment(REPO / "templates"), pipeline, table
            )
        },
    )
    server, name = pg_database
    with server.connect(name) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for path in sorted(p for p in files if p.endswith(".sql")):
            conn.execute(files[path])
        after = {"Id": 1, **{f"c{i}": s.message for i, (_, s) in enumerate(SAMPLES)}}
        apply_change(
            conn,
            sink,
            {
                "op": "c",
                "lsn": "0x" + "00" * 9 + "2A",
                "seq": "0x01",
                "commit_time": "2026-11-20T10:00:00.123",
                "tenant": "north",
                "source": {"table": table.qualified},
                "after": after,
            },
        )
        selected = ", ".join(f'"c{i}"::text' for i in range(len(SAMPLES)))
        row = conn.execute(f"SELECT {selected} FROM samples.samples").fetchone()
        types = conn.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM pg_attribute "
            "JOIN information_schema.columns ON attname = column_name "
            "WHERE attrelid = 'samples.samples'::regclass AND table_schema = 'samples' "
            "AND table_name = 'samples'"
        ).fetchall()
    stored = dict(zip([s.declared for _, s in SAMPLES], row, strict=True))
    assert stored == {s.declared: s.stored for _, s in SAMPLES}
    landed = dict(types)
    for index, (_, sample) in enumerate(SAMPLES):
        assert _canonical(landed[f"c{index}"]) == _canonical(sample.postgres), sample.declared


def _canonical(pg_type: str) -> str:
    """PostgreSQL's own spelling of a type name (`format_type`) for comparison."""
    names = {
        "timestamp": "timestamp without time zone",
        "timestamptz": "timestamp with time zone",
        "time": "time without time zone",
        "varchar": "character varying",
        "char": "character",
    }
    match = re.fullmatch(r"(\w+)(\(.*\))?", pg_type)
    if not match or match.group(1) not in names:
        return pg_type
    base, args = names[match.group(1)], match.group(2) or ""
    if base.startswith(("timestamp ", "time ")):
        head, _, zone = base.partition(" ")
        return f"{head}{args} {zone}"
    return base + args


def test_every_sample_lands_in_duckdb_and_passes_the_staging_cast() -> None:
    """The landing table dbt creates on the embedded DuckDB, a row of every sample in it, and
    the generated staging model selecting it: every cast is valid DuckDB and keeps a value."""
    duckdb = require_dbt_extra()
    pipeline, table = samples_pipeline()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    created = env.from_string(
        dbt_staging.landing_macro(pipeline, "test") + f"{{{{ {dbt_staging.LANDING_MACRO}() }}}}"
    ).render(target={"type": "duckdb"})
    model = env.from_string(dbt_staging.staging_model(pipeline, table, "test")).render(
        source=lambda _source, name: f'"{pipeline.target_schema}"."{name}"'
    )
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        for statement in created.split(";"):
            if statement.strip():
                db.execute(statement)
        values = [
            bytes.fromhex(s.message[2:]) if record.travels_as == HEX else s.stored
            for record, s in SAMPLES
        ]
        columns = ", ".join(f'"c{i}"' for i in range(len(SAMPLES)))
        db.execute(
            f'insert into samples.samples ("tenant_id", "Id", {columns}, '
            f'"__cdc_operation") values (?, ?, {", ".join("?" * len(SAMPLES))}, ?)',
            ["north", 1, *values, "c"],
        )
        staged = db.execute(
            f"select {', '.join(f'c{i}' for i in range(len(SAMPLES)))} from ({model})"
        ).fetchall()
    assert len(staged) == 1
    missing = [
        s.declared for (_, s), value in zip(SAMPLES, staged[0], strict=True) if value is None
    ]
    assert missing == []


def test_metadata_columns_agree_between_postgresql_and_duckdb() -> None:
    for column in metadata.COLUMNS:
        assert column.duckdb == dbt_staging.duckdb_type(column.postgres), column.name
        assert column.message_field or column.default, column.name  # something fills it


def test_the_readme_type_table_is_the_records_rendering() -> None:
    """The README's CDC type table is `types.readme_table()`, between the cdc-types markers;
    on a difference, paste the expected table this failure prints."""
    text = (Path(REPO) / "README.md").read_text(encoding="utf-8")
    assert TABLE_BEGIN in text and TABLE_END in text, (
        f"README.md lost the {TABLE_BEGIN.strip()} … {TABLE_END} markers of the type table"
    )
    current = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    expected = readme_table()
    assert current == expected, (
        "README.md's CDC type table differs from dataplatform.cdc.types.RECORDS; replace "
        f"the lines between the markers with exactly:\n{expected}"
    )
