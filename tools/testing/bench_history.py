#!/usr/bin/env python3
"""Benchmark the cost of system-time history: a bulk UPDATE of every row (100k by default) on
a real PostgreSQL, with no trigger, with the generated silver trigger, and with the `periods`
extension's system versioning where it is installed.

A throwaway cluster (initdb + pg_ctl, as the tests make them) runs the cases; each repetition
starts from freshly loaded tables (one transaction), then times one `UPDATE … SET amount =
amount + 1` in its own transaction. Prints medians and the ratio to the plain UPDATE.

    python tools/testing/bench_history.py --rows 100000 --repeat 5

`periods` on Debian: `apt-get install postgresql-15-periods`; without it that column is
skipped with a note.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from dataplatform.config.yamlsource import parse_yaml  # noqa: E402
from dataplatform.warehouse import render, spec  # noqa: E402
from support import postgres_bindir, postgres_cluster  # noqa: E402

console = Console(width=120)
COLUMNS = {
    "id": "bigint",
    "name": "text not null",
    "amount": "numeric(12,2) not null",
    "qty": "integer",
    "updated_at": "timestamptz",
}
TABLE_YAML = "tables:\n  - name: item\n    layer: silver\n    key: [id]\n    columns:\n" + "".join(
    f"      {n}: {t}\n" for n, t in COLUMNS.items()
)
COLUMN_SQL = ", ".join(f"{n} {t}" for n, t in COLUMNS.items()).replace(
    "id bigint", "id bigint PRIMARY KEY"
)
LOAD = (
    "INSERT INTO {t} (id, name, amount, qty, updated_at) SELECT g, 'item ' || g, g % 1000, "
    "g % 7, now() FROM generate_series(1, {rows}) AS g"
)
UPDATE = "UPDATE {t} SET amount = amount + 1"


def generated_sql() -> list[str]:
    doc = parse_yaml(TABLE_YAML, "bench.yaml")
    declared = spec.parse(doc, (), doc.data, "bench", "generated")
    objects = render.build("bench", render.declared_tables(declared), REPO)
    return [obj.ddl for obj in objects.objects]


def setup_plain(conn: psycopg.Connection) -> str:
    conn.execute("DROP SCHEMA IF EXISTS plain CASCADE; CREATE SCHEMA plain")
    conn.execute(
        f"CREATE TABLE plain.item ({COLUMN_SQL}, "
        "sys_period tstzrange NOT NULL DEFAULT tstzrange(now(), NULL))"
    )
    return "plain.item"


def setup_generated(conn: psycopg.Connection) -> str:
    conn.execute("DROP SCHEMA IF EXISTS generated CASCADE")
    for ddl in generated_sql():
        conn.execute(ddl)
    return "generated.item"


def setup_periods(conn: psycopg.Connection) -> str:
    conn.execute("DROP SCHEMA IF EXISTS periods_bench CASCADE; CREATE SCHEMA periods_bench")
    conn.execute(f"CREATE TABLE periods_bench.item ({COLUMN_SQL})")
    conn.execute("SELECT periods.add_system_time_period('periods_bench.item')")
    conn.execute("SELECT periods.add_system_versioning('periods_bench.item')")
    return "periods_bench.item"


def periods_available(conn: psycopg.Connection) -> str | None:
    """None when the extension installs, else why not."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS periods CASCADE")
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]
    return None


def run_case(
    conninfo: str, setup: Callable[[psycopg.Connection], str], rows: int
) -> tuple[float, int]:
    """Seconds of one bulk UPDATE on freshly loaded rows, and the history rows it wrote."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        table = setup(conn)
        conn.execute(LOAD.format(t=table, rows=rows))
        conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CHECKPOINT")
        start = time.perf_counter()
        conn.execute(UPDATE.format(t=table))
        elapsed = time.perf_counter() - start
        history = {
            "plain.item": None,
            "generated.item": "generated.item_history",
            "periods_bench.item": "periods_bench.item_history",
        }[table]
        written = conn.execute(f"SELECT count(*) FROM {history}").fetchone()[0] if history else 0
    return elapsed, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases: dict[str, Callable[[psycopg.Connection], str]] = {
        "plain UPDATE (no trigger)": setup_plain,
        "generated silver trigger": setup_generated,
    }
    bindir = postgres_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    with postgres_cluster(bindir, settings={"shared_buffers": "256MB"}) as server:
        conninfo = server.conninfo()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            missing = periods_available(conn)
        if missing is None:
            cases["periods extension (system versioning)"] = setup_periods
        results: dict[str, list[float]] = {name: [] for name in cases}
        written: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, setup in cases.items():  # interleaved: drift hits every case alike
                seconds, rows = run_case(conninfo, setup, args.rows)
                results[name].append(seconds)
                written[name] = rows
    base = statistics.median(results["plain UPDATE (no trigger)"])
    table = Table(
        title=f"Bulk UPDATE of {args.rows:,} rows, PostgreSQL {version}, median of {args.repeat}"
    )
    for column in ("case", "median ms", "min ms", "max ms", "× plain", "history rows"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, times in results.items():
        median = statistics.median(times)
        table.add_row(
            name,
            f"{median * 1000:.0f}",
            f"{min(times) * 1000:.0f}",
            f"{max(times) * 1000:.0f}",
            f"{median / base:.2f}",
            f"{written[name]:,}",
        )
    console.print(table)
    if missing is not None:
        console.print(
            f"[yellow]periods extension skipped:[/] {missing} "
            "(Debian: apt-get install postgresql-15-periods)"
        )


if __name__ == "__main__":
    main()
