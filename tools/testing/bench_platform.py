#!/usr/bin/env python3
"""Benchmark the local platform's commands on a stack of N busybox services (10 by default) on
the real engine, as whole processes, against the plain `docker` CLI commands a user would
otherwise run (docker compose is not assumed to be installed):

- cold `invoke up` until all healthy   vs  `docker run` of each, then polling
                                            `docker inspect` until all are healthy;
- `invoke up` with everything healthy  vs  `docker ps --filter label=…` (the least any tool
                                            must do to know nothing needs doing);
- `invoke status`                      vs  `docker ps -a --filter label=…`;
- `invoke down`                        vs  `docker stop` of each container in turn, then
                                            `docker rm`.

Every service serves HTTP with a health check, and needs STOP_S seconds to exit after SIGTERM
(a trap that sleeps, like a database flushing); services 1..N-1 depend on service 0, so a
correct down takes two stop times (the dependents together, then service 0).

    .venv/bin/python tools/testing/bench_platform.py --services 10 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from support import BUSYBOX_IMAGE, Missing, busybox_base, new_checkout  # noqa: E402

BIN = Path(sys.executable).parent
BASE = BUSYBOX_IMAGE
STOP_S = 1
console = Console(width=140)


def command(index: int) -> list[str]:
    """Serve HTTP after a short boot; on SIGTERM take STOP_S seconds, then exit 0."""
    port = 8100 + index
    return [
        "sh",
        "-c",
        f"trap 'sleep {STOP_S}; exit 0' TERM; sleep 1; mkdir -p /www && "
        f"echo ok > /www/index.html && httpd -f -p {port} -h /www & wait",
    ]


def health(index: int) -> list[str]:
    return ["CMD", "wget", "-q", "-O-", f"http://localhost:{8100 + index}/"]


def make_repo(root: Path, namespace: str, count: int) -> None:
    new_checkout(root)
    lines = [f"namespace: {namespace}", "services:"]
    for index in range(count):
        lines += [
            f"  svc{index}:",
            f"    image: {BASE}",
            f"    command: {json.dumps(command(index))}",
            "    healthcheck:",
            f"      test: {json.dumps(health(index))}",
            "      interval: 500ms",
            "      timeout: 2s",
            "      retries: 30",
        ]
        if index > 0:  # a realistic shape: everything waits for the first (the database)
            lines += ["    depends_on:", "      svc0: {condition: service_healthy}"]
    (root / "platform/services.yaml").write_text("\n".join(lines) + "\n")


LAST_CPU = [0.0]  # CPU seconds (user + system) of the last timed process


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


PYCACHE = Path(tempfile.gettempdir()) / "dataplatform-bench-platform-pycache"


def timed(argv: list[str], cwd: Path | None = None) -> float:
    # As on a workstation: bytecode cached (kept out of the checkout), whatever this shell says.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    LAST_CPU[0] = _children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def invoke(root: Path, cpu: list[float], *args: str) -> float:
    """Wall time of `invoke ARGS`; its CPU time goes to `cpu` (robust to a busy machine)."""
    elapsed = timed([str(BIN / "invoke"), *args], root)
    cpu.append(LAST_CPU[0])
    return elapsed


def docker_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True)


def scripted_up(count: int, prefix: str, network: str) -> float:
    """docker run each container (health check flags), then poll docker inspect until every
    one is healthy: what a start script with health gating does."""
    start = time.perf_counter()
    names = []
    for index in range(count):
        name = f"{prefix}-svc{index}"
        names.append(name)
        docker_cli(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "--label",
            f"bench={prefix}",
            "--health-cmd",
            " ".join(health(index)[1:]),
            "--health-interval",
            "500ms",
            "--health-retries",
            "30",
            BASE,
            *command(index),
        )
    while True:
        states = docker_cli("inspect", "--format", "{{.State.Health.Status}}", *names)
        if all(line == "healthy" for line in states.stdout.split()):
            return time.perf_counter() - start
        time.sleep(0.25)


def scripted_down(prefix: str) -> float:
    """docker stop of each container in turn, then docker rm."""
    start = time.perf_counter()
    names = docker_cli("ps", "-aq", "--filter", f"label=bench={prefix}").stdout.split()
    for name in names:
        docker_cli("stop", name)
    if names:
        docker_cli("rm", *names)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env(timeout=300)
    busybox_base(client, BASE)
    workdir = Path(tempfile.mkdtemp(prefix="dataplatform-bench-platform-"))
    namespace = f"dpbench-{uuid.uuid4().hex[:6]}"
    prefix = f"{namespace}-cli"
    root = workdir / "repo"
    make_repo(root, namespace, args.services)
    label = f"label=dataplatform.project={namespace}"
    cases: dict[str, tuple[list[float], list[float], list[float]]] = {  # ours, CPU, theirs
        "cold up, until all healthy": ([], [], []),
        "up, everything already healthy": ([], [], []),
        "status": ([], [], []),
        "down": ([], [], []),
    }
    network = client.networks.create(f"{prefix}_net", labels={"bench": prefix})
    try:
        for _ in range(args.repeat):
            cold, noop, status, down = (cases[k] for k in cases)
            cold[0].append(invoke(root, cold[1], "up"))
            for _ in range(3):
                noop[0].append(invoke(root, noop[1], "up"))
                noop[2].append(timed(["docker", "ps", "--filter", label]))
                status[0].append(invoke(root, status[1], "status"))
                status[2].append(timed(["docker", "ps", "-a", "--filter", label]))
            down[0].append(invoke(root, down[1], "down"))
            cold[2].append(scripted_up(args.services, prefix, network.name))
            down[2].append(scripted_down(prefix))
    finally:
        subprocess.run(
            [str(BIN / "invoke"), "down", "--volumes", "--yes"], cwd=root, capture_output=True
        )
        for container in client.containers.list(all=True, filters={"label": f"bench={prefix}"}):
            container.remove(force=True)
        network.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    table = Table(
        title=f"{args.services} busybox services with HTTP health checks, each "
        f"taking {STOP_S} s to stop; medians in seconds (runs: up/down "
        f"{args.repeat}, no-op up/status {3 * args.repeat})",
        title_justify="left",
    )
    for column in (
        "case",
        "invoke",
        "invoke CPU",
        "docker CLI",
        "docker CLI ÷ invoke",
        "invoke runs",
    ):
        table.add_column(column, justify="left" if column == "case" else "right")
    for title, (ours, cpu, theirs) in cases.items():
        mine, other = statistics.median(ours), statistics.median(theirs)
        table.add_row(
            title,
            f"{mine:.2f}",
            f"{statistics.median(cpu):.2f}",
            f"{other:.2f}",
            f"{other / mine:.1f}×",
            " ".join(f"{v:.2f}" for v in ours),
        )
    console.print(table)
    console.print(
        "docker CLI: cold up = docker run each + poll docker inspect until healthy; "
        "no-op up = docker ps --filter label; status = docker ps -a --filter label; "
        "down = docker stop each in turn + docker rm. invoke CPU: user + system "
        "seconds of the invoke process (what load on the machine does not inflate)",
        soft_wrap=True,
    )
    console.print(
        f"down's floor: two levels of {STOP_S} s stops (svc1..svc{args.services - 1} "
        f"together, then svc0) = {2 * STOP_S} s",
        soft_wrap=True,
    )


if __name__ == "__main__":
    try:
        main()
    except Missing as missing:
        sys.exit(str(missing))
