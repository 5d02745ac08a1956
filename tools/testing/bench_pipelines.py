#!/usr/bin/env python3
"""Benchmark per-pipeline dbt builds through `doit` against `dbt build` in every pipeline.

Creates N pipelines (100 by default) with `invoke create-pipeline`, then times, side by side in
one run: the first `doit dbt` (every pipeline built), a no-op `doit dbt`, and `doit dbt` after
one model of one pipeline changed — against the loop a team runs without this: `dbt build` in
every pipeline. It prints medians and counts how many dbt builds each `doit` ran.

    python tools/testing/bench_pipelines.py --pipelines 100
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from support import clean_env, dbt_build_loop, executed, new_checkout, timed_doit  # noqa: E402

BIN = Path(sys.executable).parent
console = Console(width=120)


def environment() -> dict[str, str]:
    return clean_env(DBT_SEND_ANONYMOUS_USAGE_STATS="false")


def make_repo(root: Path, count: int) -> list[str]:
    new_checkout(root)
    for part in ("pipelines/_templates", "pipelines/shared"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "platform/services.yaml").write_text("namespace: dpbench-pipelines\nservices: {}\n")
    names = [f"p{index:03d}" for index in range(count)]
    for name in names:
        done = subprocess.run(
            [str(BIN / "invoke"), "create-pipeline", name],
            cwd=root,
            env=environment(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"create-pipeline {name} failed: {done.stderr}")
    return names


def doit(root: Path, *args: str) -> tuple[float, int]:
    elapsed, done = timed_doit(root, *args, "dbt", env=environment())
    return elapsed, len(executed(done, "dbt:"))


def dbt_everywhere(root: Path, names: list[str]) -> float:
    """What a team runs without the toolkit: dbt build in every pipeline, one after another."""
    return dbt_build_loop(root, names, environment())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the cheap cases")
    parser.add_argument(
        "--loop-repeat", type=int, default=1, help="runs of the all-pipelines dbt build loop (slow)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="doit -n for the first build")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dataplatform-bench-pipelines-"))
    rows = []
    try:
        root = workdir / "repo"
        start = time.perf_counter()
        names = make_repo(root, args.pipelines)
        create_seconds = (time.perf_counter() - start) / len(names)
        jobs = ["-n", str(args.jobs), "-P", "thread"] if args.jobs > 1 else []
        first, built = doit(root, *jobs)
        rows.append(("first doit dbt (builds all)", [first], [built]))
        noop = [doit(root) for _ in range(max(args.repeat, 3))]
        rows.append(("no-op doit dbt", [s for s, _ in noop], [n for _, n in noop]))
        changed = []
        for repeat in range(args.repeat):
            model = root / "pipelines" / names[len(names) // 2] / "dbt/models/marts/daily_sales.sql"
            model.write_text(model.read_text() + f"\n-- change {repeat}\n")
            changed.append(doit(root))
        rows.append(
            ("one model changed in one pipeline", [s for s, _ in changed], [n for _, n in changed])
        )
        loop = [dbt_everywhere(root, names) for _ in range(args.loop_repeat)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    loop_median = statistics.median(loop)
    table = Table(
        title=f"{args.pipelines} pipelines (create-pipeline: {create_seconds:.2f} s "
        f"each); dbt build in every pipeline: {loop_median:.1f} s",
        title_justify="left",
    )
    for column in ("case", "median (s)", "runs (s)", "dbt builds", "loop ÷ case"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for title, seconds, builds in rows:
        median = statistics.median(seconds)
        table.add_row(
            title,
            f"{median:.2f}",
            " ".join(f"{s:.2f}" for s in seconds),
            "/".join(map(str, builds)),
            f"{loop_median / median:.0f}×",
        )
    console.print(table)


if __name__ == "__main__":
    main()
