#!/usr/bin/env python3
"""Benchmark content-addressed image builds (`doit`) against a plain `docker build` loop.

Builds a synthetic monorepo of N image contexts (each ~100 small files and one large file) and
times, as medians over repeated runs, side by side in one run:

  1. cold build of every image            (without a registry, then pushing to a fresh one)
  2. no-op                                 (nothing changed)
  3. one file changed in one context
  4. every file touched (mtime only)       (then: is the next no-op stat-only again?)
  5. fresh clone, warm registry, empty engine

against what a user would otherwise run: `docker build` of every context, relying on the
engine's own layer cache (classic builder). It needs a Docker engine and Debian's
`docker-registry` and `busybox-static`. Only images it created are removed.

    python tools/testing/bench_images.py --images 50 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import docker
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from support import Missing, busybox_base, clean_env, loopback_registry, timed_doit  # noqa: E402

# Two bases with different IDs, so neither side can reuse the other's layers from the engine's
# build cache: each is measured on its own cache only.
BASE_OURS = "dataplatform-bench/base:ours"
BASE_LOOP = "dataplatform-bench/base:loop"
console = Console(width=150)


@dataclass
class Case:
    title: str
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    built: list[int] = field(default_factory=list)
    pulled: list[int] = field(default_factory=list)
    note: str = ""


def ensure_bases(client: docker.DockerClient) -> None:
    for tag in (BASE_OURS, BASE_LOOP):
        busybox_base(client, tag, f"LABEL bench.variant={tag.rsplit(':', 1)[1]}\n")


def make_monorepo(root: Path, namespace: str, images: int, files: int, large_mb: float) -> None:
    rng = random.Random(42)
    (root / "platform/images").mkdir(parents=True)
    shutil.copy(REPO / "dodo.py", root / "dodo.py")
    services = [f"namespace: {namespace}", "services:"]
    for index in range(images):
        name = f"svc{index:03d}"
        context = root / "platform/images" / name
        for number in range(files):
            path = context / f"pkg{number % 7}" / f"module_{number:03d}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {name} {number}\nVALUE = {rng.random()!r}\n" * 20)
        (context / "model.bin").write_bytes(rng.randbytes(int(large_mb * 1024 * 1024)))
        (context / "debug.log").write_text("ignored\n")
        (context / ".dockerignore").write_text("*.log\nscratch/\n")
        (context / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nCOPY . /app\n")
        services += [f"  {name}:", "    build:", f"      context: images/{name}",
                     f"      args: {{BASE: '{BASE_OURS}'}}"]
    (root / "platform/services.yaml").write_text("\n".join(services) + "\n")


def env_for(registry: str | None) -> dict[str, str]:
    return clean_env(DATAPLATFORM_REGISTRY=registry)


def run_doit(root: Path, registry: str | None) -> tuple[float, str]:
    elapsed, done = timed_doit(root, env=env_for(registry))
    return elapsed, done.stdout


def count(pattern: str, output: str) -> int:
    return len(re.findall(pattern, output, flags=re.M))


def files_read(output: str) -> int | None:
    match = re.search(r"(\d+) context files checked, (\d+) read", output)
    return int(match.group(2)) if match else None


def measure(case: Case, root: Path, registry: str | None, loop_prefix: str | None) -> str:
    """One doit run (and, with `loop_prefix`, one docker build loop) recorded into `case`."""
    seconds, out = run_doit(root, registry)
    case.ours.append(seconds)
    case.built.append(count(r": built ", out))
    case.pulled.append(count(r": pulled ", out))
    if loop_prefix:
        case.theirs.append(docker_loop(root, loop_prefix))
    return out


def docker_loop(root: Path, tag_prefix: str) -> float:
    env = {**env_for(None), "DOCKER_BUILDKIT": "0"}
    start = time.perf_counter()
    for context in sorted((root / "platform/images").iterdir()):
        done = subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE={BASE_LOOP}",
                               "-t", f"{tag_prefix}/{context.name}", str(context)],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"docker build failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def remove_ours(client: docker.DockerClient, namespace: str, registry_host: str) -> None:
    for image in client.api.images(filters={"label": f"dataplatform.project={namespace}"}):
        for tag in image.get("RepoTags") or []:
            client.api.remove_image(tag)
    for image in client.api.images():
        for tag in image.get("RepoTags") or []:
            if tag.startswith(f"{registry_host}/") and "/svc" in tag:
                client.api.remove_image(tag)


def remove_loop_images(client: docker.DockerClient, tag_prefix: str) -> None:
    for image in client.api.images():
        for tag in image.get("RepoTags") or []:
            if tag.startswith(f"{tag_prefix}/"):
                client.api.remove_image(tag)


def fresh_clone(source: Path, destination: Path) -> None:
    shutil.copytree(source, destination,
                    ignore=shutil.ignore_patterns(".doit.db*", ".dataplatform"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50, help="image contexts (default 50)")
    parser.add_argument("--files", type=int, default=100, help="small files per context")
    parser.add_argument("--large-mb", type=float, default=4.0,
                        help="size of the one large file per context, MiB (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    args = parser.parse_args()

    client = docker.from_env(timeout=600)
    ensure_bases(client)
    workdir = Path(tempfile.mkdtemp(prefix="dataplatform-bench-"))
    registry_server = contextlib.ExitStack()
    registry_host = registry_server.enter_context(loopback_registry(workdir))
    namespace = f"dpbench-{uuid.uuid4().hex[:6]}"
    loop_prefix = f"dpbench-loop-{uuid.uuid4().hex[:6]}"
    root = workdir / "repo"
    make_monorepo(root, namespace, args.images, args.files, args.large_mb)
    console.print(f"synthetic monorepo: {args.images} contexts × {args.files} files + "
                  f"{args.large_mb:g} MiB, under {root}; registry {registry_host}")
    cases = {key: Case(title) for key, title in [
        ("cold_local", "1. cold build of all, no registry"),
        ("cold", "1b. cold build of all, pushing to the registry"),
        ("noop", "2. no-op"),
        ("one", "3. one file changed in one context"),
        ("touch", "4. every file touched (mtime only)"),
        ("after_touch", "   no-op right after 4"),
        ("clone", "5. fresh clone, warm registry, empty engine"),
    ]}
    try:
        for repeat in range(args.repeat):
            console.print(f"[bold]repeat {repeat + 1}/{args.repeat}[/bold]")
            registry = f"{registry_host}/rep{repeat}-{uuid.uuid4().hex[:4]}"
            remove_ours(client, namespace, registry_host)
            remove_loop_images(client, loop_prefix)
            for state in (root / ".dataplatform", ):
                shutil.rmtree(state, ignore_errors=True)
            for db in root.glob(".doit.db*"):
                db.unlink()

            measure(cases["cold_local"], root, None, loop_prefix)
            remove_ours(client, namespace, registry_host)
            remove_loop_images(client, loop_prefix)
            for db in root.glob(".doit.db*"):
                db.unlink()
            measure(cases["cold"], root, registry, loop_prefix)
            measure(cases["noop"], root, registry, loop_prefix)

            target = sorted((root / "platform/images").glob("svc*/pkg3/module_003.py"))[-1]
            target.write_text(target.read_text() + f"# change {repeat}\n")
            measure(cases["one"], root, registry, loop_prefix)

            now = time.time()
            for path in (root / "platform/images").rglob("*"):
                os.utime(path, (now, now))
            measure(cases["touch"], root, registry, loop_prefix)
            out = measure(cases["after_touch"], root, registry, None)
            cases["after_touch"].note = f"files read: {files_read(out)}"

            clone = workdir / f"clone{repeat}"
            fresh_clone(root, clone)
            remove_ours(client, namespace, registry_host)
            remove_loop_images(client, loop_prefix)
            measure(cases["clone"], clone, registry, loop_prefix)
            shutil.rmtree(clone)
    finally:
        remove_ours(client, namespace, registry_host)
        remove_loop_images(client, loop_prefix)
        registry_server.close()
        shutil.rmtree(workdir, ignore_errors=True)

    table = Table(title=f"{args.images} images, median of {args.repeat} runs (seconds)",
                  title_justify="left")
    for column in ("case", "doit", "docker build loop", "loop ÷ doit", "doit built",
                   "doit pulled", "note"):
        table.add_column(column, justify="left" if column in ("case", "note") else "right")
    for case in cases.values():
        ours = statistics.median(case.ours)
        theirs = statistics.median(case.theirs) if case.theirs else None
        table.add_row(
            case.title, f"{ours:.2f}", f"{theirs:.2f}" if theirs else "—",
            f"{theirs / ours:.1f}×" if theirs else "—",
            "/".join(str(n) for n in case.built),
            "/".join(str(n) for n in case.pulled), case.note,
        )
    console.print(table)


if __name__ == "__main__":
    try:
        main()
    except Missing as missing:
        sys.exit(str(missing))
