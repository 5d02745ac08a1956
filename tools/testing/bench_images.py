#!/usr/bin/env python3
"""Benchmark content-addressed image builds (`doit`) against a plain `docker build` loop.

Builds a synthetic monorepo of N image contexts (each ~100 small files and one large file) and
measures, side by side in each repeat, whole processes:

  cold build of every image, no registry:  plain `doit` (its default: image builds overlap,
                                           build.jobs) and `doit -n 1` (one at a time), between
                                           two runs of the loop (both count: the load drifts)
  cold build pushing to a fresh registry   (plain `doit`; it warms the registry)
  no-op, and one file changed in one context (against the loop on a warm engine cache)
  fresh clone with that warm registry and none of the images on the engine: plain `doit` and
  `doit -n 1` pull instead of building; what a user without the toolkit runs is the cold loop

The loop is `docker build` of every context, one after another, with the same Dockerfiles,
relying on the engine's own layer cache (classic builder, as docker-py speaks it). Each side
has its own base image, so neither reuses the other's layers. The table gives medians of wall
seconds, loop ÷ doit (above 1: doit is faster), the CPU seconds of the measured processes
(user+sys, children included) and of the engine (dockerd; the machine may be shared, so read
those as indications). Needs a Docker engine and Debian's `docker-registry` and
`busybox-static`. Only images it created are removed.

    python tools/testing/bench_images.py --images 50 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support, the test suite's helpers

from dataplatform.build.jobs import DEFAULT_JOBS  # noqa: E402
from support import Missing, busybox_base, clean_env, loopback_registry, timed_doit  # noqa: E402

# Two bases with different IDs, so neither side can reuse the other's layers from the engine's
# build cache: each is measured on its own cache only.
BASE_OURS = "dataplatform-bench/base:ours"
BASE_LOOP = "dataplatform-bench/base:loop"
console = Console(width=150)


@dataclass
class Run:
    """One whole process, or the loop of processes: wall seconds, their own CPU seconds
    (user+sys, children included) and the engine's (dockerd's)."""

    wall: float
    cpu: float
    engine_cpu: float


@dataclass
class Case:
    title: str
    ours: list[Run] = field(default_factory=list)
    theirs: list[Run] = field(default_factory=list)  # the loop of the same repeat
    built: list[int] = field(default_factory=list)
    pulled: list[int] = field(default_factory=list)
    note: str = ""


def _dockerd() -> int | None:
    pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    return int(pids.split()[0]) if len(pids.split()) == 1 else None


DOCKERD = _dockerd()


def engine_cpu() -> float:
    """dockerd's CPU seconds so far (0 when it is not a local process)."""
    if DOCKERD is None:
        return 0.0
    try:
        fields = Path(f"/proc/{DOCKERD}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def timing(runs: list[Run]) -> Iterator[None]:
    """Append the Run of the block (whose processes must have ended) to `runs`."""
    start, cpu, engine = time.perf_counter(), children_cpu(), engine_cpu()
    yield
    runs.append(Run(time.perf_counter() - start, children_cpu() - cpu, engine_cpu() - engine))


def ensure_bases(client: docker.DockerClient) -> None:
    for tag in (BASE_OURS, BASE_LOOP):
        busybox_base(client, tag, f"LABEL bench.variant={tag.rsplit(':', 1)[1]}\n")


def make_monorepo(root: Path, namespace: str, images: int, files: int, large_mb: float) -> None:
    rng = random.Random(42)
    nonce = uuid.uuid4().hex
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
        # unique to this run: images are content addressed, and the engine may hold an
        # earlier run's image of the same content (which doit would rightly not build)
        (context / "run.txt").write_text(nonce)
        (context / ".dockerignore").write_text("*.log\nscratch/\n")
        (context / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nCOPY . /app\n")
        services += [
            f"  {name}:",
            "    build:",
            f"      context: images/{name}",
            f"      args: {{BASE: '{BASE_OURS}'}}",
        ]
    (root / "platform/services.yaml").write_text("\n".join(services) + "\n")


def env_for(registry: str | None) -> dict[str, str]:
    return clean_env(DATAPLATFORM_REGISTRY=registry)


def run_doit(root: Path, registry: str | None, *args: str) -> str:
    _, done = timed_doit(root, *args, env=env_for(registry))
    return done.stdout


def count(pattern: str, output: str) -> int:
    return len(re.findall(pattern, output, flags=re.M))


def files_read(output: str) -> int | None:
    match = re.search(r"(\d+) context files checked, (\d+) read", output)
    return int(match.group(2)) if match else None


def measure(case: Case, root: Path, registry: str | None, *args: str) -> str:
    """One doit process, recorded into `case`."""
    with timing(case.ours):
        out = run_doit(root, registry, *args)
    case.built.append(count(r": built ", out))
    case.pulled.append(count(r": pulled ", out))
    return out


def docker_loop(root: Path, tag_prefix: str) -> Run:
    env = {**env_for(None), "DOCKER_BUILDKIT": "0"}
    runs: list[Run] = []
    with timing(runs):
        for context in sorted((root / "platform/images").iterdir()):
            done = subprocess.run(
                [
                    "docker",
                    "build",
                    "-q",
                    "--build-arg",
                    f"BASE={BASE_LOOP}",
                    "-t",
                    f"{tag_prefix}/{context.name}",
                    str(context),
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                sys.exit(f"docker build failed: {done.stderr[-2000:]}")
    return runs[0]


def forget_state(root: Path) -> None:
    """What a first doit in a new checkout has: no doit database, no stat or load cache."""
    shutil.rmtree(root / ".dataplatform", ignore_errors=True)
    for db in root.glob(".doit.db*"):
        db.unlink()


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
    shutil.copytree(
        source, destination, ignore=shutil.ignore_patterns(".doit.db*", ".dataplatform")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50, help="image contexts (default 50)")
    parser.add_argument("--files", type=int, default=100, help="small files per context")
    parser.add_argument(
        "--large-mb",
        type=float,
        default=4.0,
        help="size of the one large file per context, MiB (default 4)",
    )
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
    console.print(
        f"synthetic monorepo: {args.images} contexts × {args.files} files + "
        f"{args.large_mb:g} MiB, under {root}; registry {registry_host}; "
        f"{load()}"
    )
    sequential = ("-n", "1")
    default = f"doit (default: {DEFAULT_JOBS} at a time)"
    cases = {
        key: Case(title)
        for key, title in [
            ("cold1", "cold build, doit -n 1"),
            ("cold2", f"cold build, {default}"),
            ("push", f"cold build + push to the registry, {default}"),
            ("noop", "no-op (loop: warm engine cache)"),
            ("one", "one file changed (loop: warm cache)"),
            ("clone1", "fresh clone, warm registry, doit -n 1"),
            ("clone2", f"fresh clone, warm registry, {default}"),
        ]
    }

    def clean() -> None:
        remove_ours(client, namespace, registry_host)
        remove_loop_images(client, loop_prefix)

    try:
        for repeat in range(args.repeat):
            console.print(f"[bold]repeat {repeat + 1}/{args.repeat}[/bold] ({load()})")
            registry = f"{registry_host}/rep{repeat}-{uuid.uuid4().hex[:4]}"
            clean()
            # the loop brackets the two cold doit runs: the machine's load drifts
            cold_loops = [docker_loop(root, loop_prefix)]
            for key, jobs in (("cold1", sequential), ("cold2", ())):
                remove_ours(client, namespace, registry_host)
                forget_state(root)
                measure(cases[key], root, None, *jobs)
            remove_loop_images(client, loop_prefix)
            cold_loops.append(docker_loop(root, loop_prefix))
            for key in ("cold1", "cold2"):
                cases[key].theirs.extend(cold_loops)

            remove_ours(client, namespace, registry_host)
            forget_state(root)
            measure(cases["push"], root, registry)
            cases["push"].theirs.extend(cold_loops)
            measure(cases["noop"], root, registry)
            cases["noop"].theirs.append(docker_loop(root, loop_prefix))

            target = sorted((root / "platform/images").glob("svc*/pkg3/module_003.py"))[-1]
            target.write_text(target.read_text() + f"# change {repeat}\n")
            measure(cases["one"], root, registry)
            cases["one"].theirs.append(docker_loop(root, loop_prefix))

            for key, jobs in (("clone1", sequential), ("clone2", ())):
                clone = workdir / f"clone{repeat}-{key}"
                fresh_clone(root, clone)
                clean()
                measure(cases[key], clone, registry, *jobs)
                cases[key].theirs.extend(cold_loops)
                shutil.rmtree(clone)
    finally:
        clean()
        registry_server.close()
        shutil.rmtree(workdir, ignore_errors=True)

    table = Table(
        title=f"{args.images} images × {args.files} files + {args.large_mb:g} MiB, "
        f"median of {args.repeat} repeats; {load()}",
        title_justify="left",
    )
    for column in (
        "case",
        "doit s",
        "loop s",
        "loop ÷ doit",
        "doit CPU s",
        "engine CPU s",
        "loop CPU s",
        "loop engine CPU s",
        "built",
        "pulled",
    ):
        table.add_column(column, justify="left" if column == "case" else "right")

    def median(runs: list[Run], what: str) -> float:
        return statistics.median(getattr(run, what) for run in runs)

    for case in cases.values():
        ours, theirs = median(case.ours, "wall"), median(case.theirs, "wall")
        table.add_row(
            case.title,
            f"{ours:.2f}",
            f"{theirs:.2f}",
            f"{theirs / ours:.2f}×",
            f"{median(case.ours, 'cpu'):.2f}",
            f"{median(case.ours, 'engine_cpu'):.1f}",
            f"{median(case.theirs, 'cpu'):.2f}",
            f"{median(case.theirs, 'engine_cpu'):.1f}",
            "/".join(str(n) for n in case.built),
            "/".join(str(n) for n in case.pulled),
        )
    console.print(table)
    console.print("reproduce: python tools/testing/bench_images.py " + " ".join(sys.argv[1:]))


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    try:
        main()
    except Missing as missing:
        sys.exit(str(missing))
