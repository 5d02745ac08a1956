#!/usr/bin/env python3
"""Benchmark DAG validation through `doit` against the DagBag test teams run on every change.

Creates N pipelines (50 by default) with `invoke create-pipeline` (each a dbt project with an
orchestration section: a cosmos DAG in manifest mode), generates their DAGs once, then times,
side by side in one run and as whole processes:

- `doit dags` validating every pipeline (first run), a no-op, and one hand-written DAG file
  changed (exactly one `validate:` must re-run);
- against the astro-style DAG integrity test: one process in the same managed Airflow
  environment that fills a DagBag from the assembled dags folder and fails on import errors —
  what a team runs on every change without the toolkit.

It also reports how long the DagBag itself takes to parse the assembled folder of N cosmos DAGs
(Airflow kills a file's parse after `dagbag_import_timeout`, 30 s by default).

    python tools/testing/bench_orchestration.py --pipelines 50 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
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

from support import clean_env, executed, new_checkout, timed_doit  # noqa: E402

BIN = Path(sys.executable).parent
console = Console(width=120)

HAND_WRITTEN = """\
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("{name}_backfill", start_date=datetime(2024, 1, 1), schedule=None, tags=["bench"],
         default_args={{"retries": 1}}):
    EmptyOperator(task_id="step_{version}")
"""

INTEGRITY_TEST = """\
import sys, time
started = time.perf_counter()
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(sys.argv[1], include_examples=False)
parsed = time.perf_counter()
assert not bag.import_errors, bag.import_errors
for dag in bag.dags.values():
    assert dag.tags, dag.dag_id
print(f"{len(bag.dags)} {imported - started:.3f} {parsed - imported:.3f}")
"""


def environment(root: Path) -> dict[str, str]:
    env = clean_env(DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env.setdefault("DATAPLATFORM_ENVS_DIR", str(REPO / ".dataplatform" / "envs"))
    env["AIRFLOW_HOME"] = str(root / ".airflow-home")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{root / '.airflow-home/db'}"
    return env


def make_repo(root: Path, count: int) -> list[str]:
    new_checkout(root)
    for part in ("pipelines/_templates", "pipelines/shared", "platform/orchestration"):
        shutil.copytree(
            REPO / part,
            root / part,
            ignore=shutil.ignore_patterns("__pycache__", "dags", "dagster"),
        )
    (root / "platform/services.yaml").write_text("namespace: dpbench-orch\nservices: {}\n")
    (root / ".airflow-home").mkdir()
    names = [f"p{index:03d}" for index in range(count)]
    for name in names:
        done = subprocess.run(
            [str(BIN / "invoke"), "create-pipeline", name],
            cwd=root,
            env=environment(root),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"create-pipeline {name} failed: {done.stderr}")
    return names


def doit(root: Path, *args: str) -> tuple[float, int]:
    elapsed, done = timed_doit(root, *args, env=environment(root))
    return elapsed, len(executed(done, "validate:"))


def airflow_python(root: Path) -> Path:
    sys.path.insert(0, str(REPO / "lib"))
    from dataplatform import envs
    from dataplatform.orchestration.spec import load_settings
    from dataplatform.project import Project

    os.environ.setdefault("DATAPLATFORM_ENVS_DIR", str(REPO / ".dataplatform" / "envs"))
    project = Project(root)
    return envs.ensure(project, "airflow", load_settings(project).locks["airflow"], print)


def integrity_test(root: Path, python: Path) -> tuple[float, int, float]:
    """The DagBag test over the assembled folder: (wall seconds, DAGs, DagBag parse seconds)."""
    script = root / ".airflow-home" / "test_dag_integrity.py"
    script.write_text(INTEGRITY_TEST)
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), str(script), str(root / "platform/orchestration/dags")],
        env=environment(root),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the DagBag test failed:\n{done.stderr[-3000:]}")
    dags, _imported, parsed = done.stdout.split()[-3:]
    return elapsed, int(dags), float(parsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="doit -n for the first run")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic repository")
    options = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-orch-"))
    try:
        console.print(f"[bold]{options.pipelines} pipelines[/] in {root}")
        names = make_repo(root, options.pipelines)
        python = airflow_python(root)
        hand = root / "pipelines" / names[0] / "orchestration" / "backfill.py"
        hand.write_text(HAND_WRITTEN.format(name=names[0], version=0))
        doit(root, "-n", str(options.jobs), "-P", "thread", "orchestration")  # dbt parse + DAGs
        parallel = ("-n", str(options.jobs), "-P", "thread")
        first, noop, change, loop, parse = [], [], [], [], []
        runs = {"first": set(), "noop": set(), "change": set()}
        for repetition in range(options.repeat):
            doit(root, "forget", "validate", "dags")
            elapsed, count = doit(root, *parallel, "dags")
            first.append(elapsed)
            runs["first"].add(count)
            elapsed, count = doit(root, "dags")
            noop.append(elapsed)
            runs["noop"].add(count)
            hand.write_text(HAND_WRITTEN.format(name=names[0], version=repetition + 1))
            elapsed, count = doit(root, "dags")
            change.append(elapsed)
            runs["change"].add(count)
            elapsed, dags, parsed = integrity_test(root, python)
            loop.append(elapsed)
            parse.append(parsed)
        if runs["change"] != {1} or runs["noop"] != {0}:
            sys.exit(f"unexpected validations run: {runs}")

        median = statistics.median
        table = Table(
            title=f"DAG validation, {options.pipelines} pipelines "
            f"({dags} DAGs), medians of {options.repeat}"
        )
        for column in ("case", "doit", "validations run", "DagBag test", "ratio"):
            table.add_column(column, justify="right" if column != "case" else "left")
        for case, values, key in (
            ("first run (-n 2)", first, "first"),
            ("no-op", noop, "noop"),
            ("one DAG file changed", change, "change"),
        ):
            table.add_row(
                case,
                f"{median(values):.2f} s",
                "/".join(str(c) for c in sorted(runs[key])),
                f"{median(loop):.2f} s",
                f"{median(loop) / median(values):.1f}×",
            )
        console.print(table)
        console.print(
            f"DagBag parse of the assembled folder ({dags} cosmos DAGs, manifest "
            f"mode): median {median(parse):.2f} s "
            f"(Airflow's dagbag_import_timeout: 30 s per file)"
        )
        console.print(
            json.dumps(
                {
                    "first": first,
                    "noop": noop,
                    "change": change,
                    "dagbag_test": loop,
                    "dagbag_parse": parse,
                }
            )
        )
    finally:
        if options.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
