#!/usr/bin/env python3
"""Benchmark `invoke up` / `invoke status` on a stack of N busybox services (10 by default)
with real HTTP health checks, against starting the same containers one by one with a fixed
sleep after each (what a start script without health gating does).

Prints medians over repeated runs, in one run: cold `up` to all-healthy, the scripted start,
`up` with everything already healthy (target under 1 s), and `status`.

    python tools/testing/bench_platform.py --services 10 --repeat 3 --sleep 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
from bench_images import ensure_busybox  # same folder: run as a script
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BASE = "dataplatform-test/busybox:1"
console = Console(width=120)


def service(index: int) -> tuple[str, list[str], dict]:
    """A service serving HTTP after a short boot, with its health check."""
    port = 8100 + index
    command = ["sh", "-c", f"sleep 1; mkdir -p /www && echo ok > /www/index.html && "
                           f"exec httpd -f -p {port} -h /www"]
    health = {"test": ["CMD", "wget", "-q", "-O-", f"http://localhost:{port}/"],
              "interval": 500_000_000, "timeout": 2_000_000_000, "retries": 30}
    return f"svc{index}", command, health


def make_repo(root: Path, namespace: str, count: int) -> None:
    for part in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / part, root / part)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "platform").mkdir()
    lines = [f"namespace: {namespace}", "services:"]
    for index in range(count):
        name, command, _ = service(index)
        lines += [f"  {name}:", f"    image: {BASE}", f"    command: {command!r}",
                  "    healthcheck:",
                  f"      test: [CMD, wget, -q, -O-, 'http://localhost:{8100 + index}/']",
                  "      interval: 500ms", "      timeout: 2s", "      retries: 30"]
        if index > 0:  # a realistic shape: everything waits for the first (the database)
            lines += ["    depends_on:", "      svc0: {condition: service_healthy}"]
    (root / "platform/services.yaml").write_text("\n".join(lines).replace("'", '"') + "\n")


def invoke(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    start = time.perf_counter()
    done = subprocess.run([str(BIN / "invoke"), *args], cwd=root, env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"invoke {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def scripted_start(client: docker.DockerClient, count: int, pause: float, prefix: str) -> float:
    """docker run each container in order, sleeping a fixed time after each."""
    network = client.networks.create(f"{prefix}_net")
    start = time.perf_counter()
    try:
        for index in range(count):
            name, command, health = service(index)
            client.containers.run(BASE, command, name=f"{prefix}-{name}", detach=True,
                                  network=network.name, healthcheck=health)
            time.sleep(pause)
        return time.perf_counter() - start
    finally:
        for container in client.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True)
        network.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=5.0,
                        help="the fixed pause of the scripted start after each container")
    args = parser.parse_args()
    client = docker.from_env(timeout=300)
    ensure_busybox(client, BASE)
    workdir = Path(tempfile.mkdtemp(prefix="dataplatform-bench-platform-"))
    namespace = f"dpbench-{uuid.uuid4().hex[:6]}"
    root = workdir / "repo"
    root.mkdir()
    make_repo(root, namespace, args.services)
    cold, scripted, warm, status = [], [], [], []
    try:
        for _ in range(args.repeat):
            cold.append(invoke(root, "up"))
            warm += [invoke(root, "up") for _ in range(3)]
            status += [invoke(root, "status") for _ in range(3)]
            invoke(root, "down", "--volumes", "--yes")
            scripted.append(scripted_start(client, args.services, args.sleep,
                                           f"{namespace}-script"))
    finally:
        subprocess.run([str(BIN / "invoke"), "down", "--volumes", "--yes"], cwd=root,
                       capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    table = Table(title=f"{args.services} services with HTTP health checks; medians of "
                        f"{args.repeat} runs (seconds)", title_justify="left")
    for column in ("case", "median", "runs"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for title, values in (("invoke up, cold, until all healthy", cold),
                          (f"docker run one by one, {args.sleep:g} s sleep after each", scripted),
                          ("invoke up, all already healthy", warm),
                          ("invoke status", status)):
        table.add_row(title, f"{statistics.median(values):.2f}",
                      " ".join(f"{v:.2f}" for v in values))
    console.print(table)
    ratio = statistics.median(scripted) / statistics.median(cold)
    console.print(f"scripted ÷ invoke up: {ratio:.1f}× (and the script does not even know "
                  "whether anything is healthy)")


if __name__ == "__main__":
    main()
