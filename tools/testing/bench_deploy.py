#!/usr/bin/env python3
"""Benchmark `invoke db.plan` and a no-op `invoke db.deploy` over N warehouse tables (100 by
default) against re-applying every generated .sql file with `psql -f` (what a user runs
without the deployer).

A throwaway checkout declares N tables (a third each bronze, silver with history, gold) in
one pipeline, `doit warehouse` generates them, and a throwaway PostgreSQL cluster gets the
first deploy (not timed). Then, in one run and side by side, medians over --repeat runs of:
`invoke db.plan`, `invoke db.deploy` (nothing to do), `psql -f` on every generated file,
and the same plan / deploy calls in-process (without the command's start-up).

    python tools/testing/bench_deploy.py --tables 100 --repeat 7
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from support import clean_env, new_checkout, postgres_bindir, postgres_cluster  # noqa: E402

console = Console(width=120)


def make_checkout(root: Path, tables: int) -> None:
    new_checkout(root)
    lines = ["name: bench", "warehouse:", "  tables:"]
    layers = ("bronze", "silver", "gold")
    for i in range(tables):
        layer = layers[i % 3]
        lines += [
            f"    - name: t{i:03d}",
            f"      layer: {layer}",
            "      key: [id]",
            "      columns:",
            "        id: bigint",
            "        code: varchar(20)",
            "        amount: numeric(18,2)",
            "        note: text",
            "        happened_at: timestamptz",
            "        flag: {type: boolean, nullable: false, default: 'false'}",
        ]
    (root / "pipelines/bench").mkdir(parents=True)
    (root / "pipelines/bench/pipeline.yaml").write_text("\n".join(lines) + "\n")


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def run(command: list[str], cwd: Path, expect: str | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, env=clean_env(), capture_output=True, text=True)
    if done.returncode != 0 or (expect and expect not in done.stdout):
        sys.exit(f"{' '.join(command[:3])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import psycopg

    from dataplatform.warehouse import deploy

    bindir = postgres_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    workdir = Path(tempfile.mkdtemp(prefix="dataplatform-bench-deploy-"))
    root = workdir / "checkout"
    try:
        make_checkout(root, args.tables)
        run([sys.executable, "-m", "doit", "warehouse"], root)
        pipeline_dir = root / "pipelines/bench"
        files = sorted(str(p) for p in (pipeline_dir / "generated/warehouse").glob("*.sql"))
        desired = deploy.load(pipeline_dir)
        with postgres_cluster(bindir, settings={}) as server:
            host, port, dsn = server.host, server.port, server.conninfo()
            invoke = str(Path(sys.executable).with_name("invoke"))
            run([invoke, "db.deploy", "--dsn", dsn], root, expect="deployed")
            psql = shutil.which("psql") or str(bindir / "psql")
            psql_all = [
                psql,
                "-q",
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                host,
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ]
            for path in files:
                psql_all += ["-f", path]
            with psycopg.connect(dsn) as connection:

                def plan_in_process() -> None:
                    deploy.plan_all(connection, [desired])

                def deploy_in_process() -> None:
                    outcome = deploy.deploy(connection, [desired], actor="bench")[0]
                    assert outcome.up_to_date and not outcome.executed

                cases = {
                    f"psql -f (all {len(files)} DDL files re-applied)": lambda: run(psql_all, root),
                    "invoke db.plan": lambda: run(
                        [invoke, "db.plan", "--dsn", dsn], root, expect="up to date"
                    ),
                    "invoke db.deploy (no-op)": lambda: run(
                        [invoke, "db.deploy", "--dsn", dsn], root, expect="up to date"
                    ),
                    "db.plan in-process (deploy.plan_all)": plan_in_process,
                    "db.deploy no-op in-process (deploy.deploy)": deploy_in_process,
                }
                medians: dict[str, float] = {}
                for _ in range(1):  # warm caches once, untimed
                    for action in cases.values():
                        action()
                results = {name: timed(action, args.repeat) for name, action in cases.items()}
                medians = {name: statistics.median(times) for name, times in results.items()}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    baseline = next(iter(medians.values()))
    table = Table(
        title=f"{args.tables} warehouse tables ({len(desired.objects)} objects), "
        f"medians of {args.repeat} runs",
        title_justify="left",
    )
    for column in ("case", "median", "min", "max", "vs psql -f"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, times in results.items():
        table.add_row(
            name,
            f"{medians[name] * 1000:.0f} ms",
            f"{min(times) * 1000:.0f} ms",
            f"{max(times) * 1000:.0f} ms",
            f"{medians[name] / baseline:.2f}×",
        )
    console.print(table)
    verdict = all(medians[n] < 1.0 for n in ("invoke db.plan", "invoke db.deploy (no-op)"))
    console.print(
        f"target (< 1 s each for db.plan and a no-op db.deploy): {'met' if verdict else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
