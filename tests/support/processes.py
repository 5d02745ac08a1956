"""Running whole processes the way a user does: `run` a command, read which doit tasks a run
`executed`, the `one_error_line` a user mistake must give, and for the benchmarks
`timed_doit` (wall seconds of one `doit` process) and `dbt_build_loop` (what a team runs
without the toolkit)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def executed(result: subprocess.CompletedProcess, prefix: str = "") -> list[str]:
    """The doit tasks a run executed (its `.  task` lines), sorted; `prefix` filters them."""
    names = re.findall(r"^\.  (\S+)$", result.stdout, flags=re.M)
    return sorted(n for n in names if n.startswith(prefix))


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a command that refused a user mistake: exit 1, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def timed_doit(
    root: Path, *args: str, env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one `python -m doit ARGS` process in `root`, and its result. For the
    benchmarks: a failed run exits the script with the tail of doit's output."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "doit", *args], cwd=root, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"doit {' '.join(args)} failed in {root}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
        )
    return elapsed, done


def dbt_build_loop(root: Path, names: list[str], env: dict[str, str]) -> float:
    """Wall seconds of what a team runs without the toolkit: `dbt build` in every pipeline of
    `names`, one after another, with the profiles doit generated (under each pipeline's
    build/). A failed build exits the benchmark with the tail of dbt's output."""
    dbt = str(Path(sys.executable).parent / "dbt")
    start = time.perf_counter()
    for name in names:
        pipeline = root / "pipelines" / name
        done = subprocess.run(
            [
                dbt,
                "build",
                "--project-dir",
                str(pipeline / "dbt"),
                "--profiles-dir",
                str(pipeline / "build"),
                "--target-path",
                str(pipeline / "build/loop-target"),
                "--log-path",
                str(pipeline / "build/loop-logs"),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"dbt build failed in {name}: {done.stdout[-2000:]}")
    return time.perf_counter() - start
