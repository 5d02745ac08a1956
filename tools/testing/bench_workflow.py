#!/usr/bin/env python3
"""Benchmark `invoke affected` and `invoke why` on a synthetic monorepo (300 pipelines by
default, tools/testing/synthetic_repo.py), against what a user runs without them:

- affected: `git diff --name-only BASE` plus `doit list --all --deps` (every task's file
  dependencies, to match the changed files against by hand; it knows no dependents, no
  image contexts, no folders);
- why: `doit info TASK` (doit's status of one task, with the changed file_dep).

Both sides are timed as the user's whole command (process start to exit), medians over
--repeat runs in one run; `why` also reads the task's last-run record (the bench runs
`doit cdc:p000` first). Commands load the task graph from the stat-keyed load cache the first
`doit` or `invoke` left (build.load_cache); the `cold` rows remove it before each run. Then
`invoke affected`'s time is split in-process (imports, git, the graph cold and warm, the
matching), to say where it goes. On a busy machine compare the CPU columns.

    python tools/testing/bench_workflow.py --pipelines 300 --repeat 7
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # tests/support
import synthetic_repo  # tools/testing is not a package: sys.path[0] is its folder

from dataplatform.build import load_cache
from dataplatform.project import Project
from support import clean_env

BIN = Path(sys.executable).parent
console = Console(width=160)


def environment() -> dict[str, str]:
    return clean_env()


def timed(root: Path, commands: list[list[str]], repeat: int) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of running `commands` one after the other
    (`doit info` exits 1 for a task that is not up to date: that is an answer, not a
    failure). CPU time stays meaningful on a busy machine, where wall time does not."""
    samples = []
    cpu = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        for command in commands:
            done = subprocess.run(
                command, cwd=root, env=environment(), capture_output=True, text=True
            )
            if done.returncode not in (0, 1) or "Traceback" in done.stderr:
                sys.exit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        samples.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(samples), statistics.median(cpu)


def breakdown(root: Path) -> list[tuple[str, float]]:
    """Where one in-process `affected` spends its time (a fresh interpreter, like the CLI): the
    task graph loaded cold (no load cache: every config read, every task created) and warm
    (rebuilt from the stat-keyed load cache, what every command after a first one does)."""
    script = r"""
import json, time
now = lambda: (time.perf_counter(), time.process_time())
t0 = now()
from pathlib import Path
from dataplatform.graph import affected, changes, load
from dataplatform.build import load_cache
from dataplatform.project import Project
t1 = now()
project = Project(Path('.').resolve())
found = changes.changes_since(project.root, None)
t2 = now()
project.load_cache_file.unlink(missing_ok=True)
cold = load.load_graph(project)
t3 = now()
graph = load.load_graph(project)
t4 = now()
hit = affected.affected_by(graph, found.paths(), changes.reader_at(project.root, found.base))
t5 = now()
span = lambda a, b: [b[0] - a[0], b[1] - a[1]]
print(json.dumps({"imports": span(t0, t1), "git (diff, untracked; in child processes)":
                  span(t1, t2),
                  "task graph, cold: no load cache (every config read, tasks created)":
                  span(t2, t3),
                  "task graph, warm: from the load cache (stat only)": span(t3, t4),
                  "matching + dependents": span(t4, t5), "tasks": len(graph.tasks)}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    data = json.loads(done.stdout)
    return [(k, v) for k, v in data.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    invoke = str(BIN / "invoke")
    doit = [sys.executable, "-m", "doit"]
    with tempfile.TemporaryDirectory(prefix="bench-workflow-") as tmp:
        root = Path(tmp) / "mono"
        shape = synthetic_repo.Shape(pipelines=args.pipelines)
        synthetic_repo.generate(root, shape)
        synthetic_repo.git_init(root)
        base = synthetic_repo.git_commit(root, "synthetic monorepo")
        # the change of a typical pull request: one model of one pipeline, one shared macro
        edited = synthetic_repo.pipeline_name(min(123, args.pipelines - 1))
        model = root / f"pipelines/{edited}/dbt/models/marts/orders.sql"
        model.write_text(model.read_text() + "-- reviewed\n")
        macro = root / "pipelines/shared/macros/cents.sql"
        macro.write_text(macro.read_text() + "\n")
        # one task with history in .doit.db, so `why` compares with a real record
        done = subprocess.run(
            [*doit, "cdc:p000"], cwd=root, env=environment(), capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"doit cdc:p000 failed: {done.stdout}{done.stderr}")
        cdc = root / "pipelines/p000/config/cdc.yaml"
        cdc.write_text(cdc.read_text().replace("Col0", "Renamed0", 1))
        tasks = len(
            subprocess.run(
                [*doit, "list", "--all", "-q"],
                cwd=root,
                env=environment(),
                capture_output=True,
                text=True,
            ).stdout.splitlines()
        )
        # A load that read a file modified within RACY_NS is not kept (its mtime may not be
        # unique yet): a user's second command after an edit finds the cache; so does this one.
        time.sleep(load_cache.RACY_NS / 1e9 + 0.1)
        cache = str(Project(root).load_cache_file)
        rows = [
            (
                "affected",
                "invoke affected --json",
                timed(root, [[invoke, "affected", "--json"]], args.repeat),
                "git diff --name-only BASE + doit list --all --deps",
                timed(
                    root,
                    [["git", "diff", "--name-only", base], [*doit, "list", "--all", "--deps"]],
                    args.repeat,
                ),
            ),
            (
                "why",
                "invoke why cdc:p000",
                timed(root, [[invoke, "why", "cdc:p000"]], args.repeat),
                "doit info cdc:p000",
                timed(root, [[*doit, "info", "cdc:p000"]], args.repeat),
            ),
            (
                "affected, cold",
                "rm load cache; invoke affected --json",
                timed(root, [["rm", "-f", cache], [invoke, "affected", "--json"]], args.repeat),
                "git diff --name-only BASE + doit list --all --deps",
                None,
            ),
            (
                "why, cold",
                "rm load cache; invoke why cdc:p000",
                timed(root, [["rm", "-f", cache], [invoke, "why", "cdc:p000"]], args.repeat),
                "doit info cdc:p000",
                None,
            ),
            (
                "startup",
                "invoke --list (invoke + our CLI, nothing loaded)",
                timed(root, [[invoke, "--list"]], args.repeat),
                "doit list (doit + dodo.py loaded)",
                timed(root, [[*doit, "list"]], args.repeat),
            ),
        ]
        table = Table(
            title=f"workflow commands on {args.pipelines} pipelines ({tasks} doit "
            f"tasks), median of {args.repeat}"
        )
        for column in ("what", "command", "wall", "CPU", "alternative", "wall ", "CPU "):
            table.add_column(
                column, justify="right" if column.strip() in ("wall", "CPU") else "left"
            )
        for what, ours, (ours_s, ours_cpu), theirs, alternative in rows:
            if alternative is None:  # the same alternative as above: not timed twice
                table.add_row(
                    what, ours, f"{ours_s:.3f} s", f"{ours_cpu:.3f} s", theirs, "(above)", ""
                )
                continue
            theirs_s, theirs_cpu = alternative
            table.add_row(
                what,
                ours,
                f"{ours_s:.3f} s",
                f"{ours_cpu:.3f} s",
                theirs,
                f"{theirs_s:.3f} s",
                f"{theirs_cpu:.3f} s",
            )
        console.print(table)
        split = Table(title="where one `affected` spends its time (in-process, one run)")
        split.add_column("step")
        split.add_column("wall s", justify="right")
        split.add_column("CPU s", justify="right")
        for step, value in breakdown(root):
            if isinstance(value, list):
                split.add_row(step, f"{value[0]:.3f}", f"{value[1]:.3f}")
            else:
                split.add_row(step, str(value), "")
        console.print(split)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        console.print(f"{os.cpu_count()} CPUs, load average {load:.1f} while measuring")


if __name__ == "__main__":
    main()
