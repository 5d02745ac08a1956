#!/usr/bin/env python3
"""Benchmark CDC generation through `doit`: T tenants × N tables (200 × 50 by default).

Prints, as medians over repeated runs in one run: the first generation (no previous output),
a no-op `doit`, and `doit` after one table of the pipeline changed (a column added), with how
many files each run wrote.

    python tools/testing/bench_cdc.py --tenants 200 --tables 50 --repeat 3
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from support import clean_env, new_checkout, timed_doit  # noqa: E402

TYPES = [
    "int",
    "bigint",
    "nvarchar(200)",
    "decimal(18,2)",
    "datetime2(3)",
    "bit",
    "uniqueidentifier",
    "date",
    "varbinary(max)",
    "nvarchar(max)",
]
console = Console(width=120)


def make_repo(root: Path, tenants: int, tables: int) -> Path:
    new_checkout(root)
    (root / "platform/cdc").mkdir()
    lines = [
        "groups:",
        "  fleet:",
        "    pattern: db-per-tenant",
        "    servers:",
        "      main:",
        "        host: ${FLEET_HOST:-mssql}",
        "        port: 1433",
        "        user: ${FLEET_USER}",
        "        password: ${FLEET_PASSWORD}",
        "    tenants:",
    ]
    lines += [f"      t{i:04d}: {{database: Fleet_{i:04d}, env: prod}}" for i in range(tenants)]
    (root / "platform/cdc/source-groups.yaml").write_text("\n".join(lines) + "\n")
    pipeline = root / "pipelines/fleet_cdc"
    pipeline.mkdir(parents=True)
    body = [
        "name: fleet_cdc",
        "cdc:",
        "  source_group: fleet",
        "  target_schema: fleet",
        "  tables:",
    ]
    for t in range(tables):
        body += [
            f"    dbo.Table{t:03d}:",
            "      primary_key: [Id, Part]",
            "      columns:",
            "        Id: bigint",
            "        Part: int",
        ]
        body += [f"        Col{c:02d}: {TYPES[c % len(TYPES)]}" for c in range(10)]
    manifest = pipeline / "pipeline.yaml"
    manifest.write_text("\n".join(body) + "\n")
    return manifest


def doit(root: Path) -> tuple[float, str]:
    elapsed, done = timed_doit(root, "cdc", env=clean_env())
    return elapsed, done.stdout


def written(output: str) -> int:
    match = re.search(r"(\d+) written", output)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dataplatform-bench-cdc-"))
    cases: dict[str, tuple[list[float], list[int]]] = {
        "first generation": ([], []),
        "no-op": ([], []),
        "one table changed": ([], []),
    }
    try:
        root = workdir / "repo"
        manifest = make_repo(root, args.tenants, args.tables)
        for repeat in range(args.repeat):
            shutil.rmtree(root / "pipelines/fleet_cdc/generated", ignore_errors=True)
            for db in root.glob(".doit.db*"):
                db.unlink()
            for name in cases:
                if name == "one table changed":
                    text = manifest.read_text()
                    manifest.write_text(
                        text.replace(
                            "    dbo.Table007:\n      primary_key: [Id, Part]\n      columns:\n",
                            "    dbo.Table007:\n      primary_key: [Id, Part]\n      columns:\n"
                            f"        Added{repeat}: int\n",
                            1,
                        )
                    )
                seconds, out = doit(root)
                cases[name][0].append(seconds)
                cases[name][1].append(written(out))
        files = sum(1 for p in (root / "pipelines/fleet_cdc/generated").rglob("*") if p.is_file())
        size = sum(
            p.stat().st_size
            for p in (root / "pipelines/fleet_cdc/generated").rglob("*")
            if p.is_file()
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = Table(
        title=f"CDC: {args.tenants} tenants × {args.tables} tables → {files} files, "
        f"{size / 1e6:.1f} MB; median of {args.repeat} runs",
        title_justify="left",
    )
    for column in ("case", "doit cdc (s)", "runs (s)", "files written"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, (seconds, counts) in cases.items():
        table.add_row(
            name,
            f"{statistics.median(seconds):.2f}",
            " ".join(f"{s:.2f}" for s in seconds),
            "/".join(str(c) for c in counts),
        )
    console.print(table)


if __name__ == "__main__":
    main()
