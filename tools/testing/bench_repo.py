#!/usr/bin/env python3
"""Scale benchmark of `doit` over ONE synthetic monorepo, against the loops a team runs without
the toolkit (`dbt build` in every pipeline, `docker build` of every image context).

The repository comes from tools/testing/synthetic_repo.py; at `--size full`: 300 pipelines
(dbt projects), 60 of them CDC pipelines over groups of 20 tenants x 30 tables (configs and
DDL: there is no landed data to build their dbt staging on), 50 image contexts of ~100 files.
Cases, each a whole `doit` process, run side by side in one go:
first doit, no-op, one dbt model changed, one CDC column changed, one image file changed,
touch-all (then a no-op again), a fresh clone with a warm registry (a loopback
docker-registry the first doit pushed to, unless `--registry` names another or `none`; the
clone runs with none of the repo's images on the engine, as on another machine, so it pulls
instead of building). For every case: median seconds, CPU seconds of the doit process, tasks
run (doit's `.` lines), the images summary, and, for the no-ops, the files of the checkout
stat'ed and opened for reading (strace, when installed). With `--loops`, the `dbt build` and
`docker build` loops are timed after, and the first doit and the fresh clone are given as
ratios of them. The machine's load average is printed next to the figures: read timings with
it, and trust the counts first. Only images this run made are removed, at the end.

    python tools/testing/bench_repo.py --size small          # a quick check (~2 min)
    python tools/testing/bench_repo.py --size full --jobs 2  # the issue's scale (long)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # tests/support
import synthetic_repo  # tools/testing is not a package: sys.path[0] is its folder

from support import (
    clean_env,
    dbt_build_loop,
    executed,
    loopback_registry,
    remove_namespace_images,
    timed_doit,
)

BIN = Path(sys.executable).parent
SIZES = {
    "small": (
        synthetic_repo.Shape(
            pipelines=20, cdc_every=5, groups=2, tenants=3, tables=5, images=3, image_every=1000
        ),
        10,
    ),
    "full": (
        synthetic_repo.Shape(
            pipelines=300, cdc_every=5, groups=3, tenants=20, tables=30, images=49, image_every=1000
        ),
        100,
    ),
}


@dataclass
class Case:
    name: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    ran: int = 0
    images: str = ""
    statted: str = "-"
    read: str = "-"


REGISTRY: dict[str, str | None] = {"DATAPLATFORM_REGISTRY": None}  # set once, in main


def env() -> dict[str, str]:
    return clean_env(DBT_SEND_ANONYMOUS_USAGE_STATS="false", **REGISTRY)


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


class Cases(list):
    """The cases measured so far; each row is printed as soon as its case is done, so a run
    stopped early (Ctrl-C at full size) still shows what it measured."""

    def add(self, case: Case) -> None:
        if not self:
            print(
                f"\n{'case':28} {'median s':>9} {'CPU s':>6} {'runs':>5} {'tasks run':>9} "
                f"{'stat':>6} {'read':>6}  images   ({load()})"
            )
        self.append(case)
        cpu = f"{statistics.median(case.cpu):6.2f}" if case.cpu else f"{'-':>6}"
        print(
            f"{case.name:28} {statistics.median(case.seconds):9.3f} {cpu} "
            f"{len(case.seconds):5d} {case.ran:9d} {case.statted:>6} {case.read:>6}  "
            f"{case.images}",
            flush=True,
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def doit(root: Path, *args: str, case: Case | None = None) -> tuple[float, int, str]:
    """One doit process; with `case`, its seconds, CPU seconds and counts are recorded."""
    cpu = children_cpu()
    elapsed, done = timed_doit(root, *args, env=env())
    ran = len(executed(done))
    if case is not None:
        case.seconds.append(elapsed)
        case.cpu.append(children_cpu() - cpu)
        case.ran = ran
        summary = re.search(r"images: ([^\n]*?)(?:, \d+ context files|$)", done.stdout, re.M)
        case.images = summary.group(1) if summary else ""
    return elapsed, ran, done.stdout


def file_counts(root: Path) -> tuple[str, str]:
    """Files of the checkout a no-op stats and opens for reading (doit's own db and dodo.py
    excepted; the load cache is one of them), by strace."""
    strace = shutil.which("strace")
    if strace is None:
        return "n/a", "n/a"
    log = root.parent / "strace.log"
    subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-o",
            str(log),
            "-e",
            "trace=openat,stat,lstat,newfstatat,statx",
            str(BIN / "python"),
            "-m",
            "doit",
        ],
        cwd=root,
        env=env(),
        capture_output=True,
    )
    prefix = str(root) + "/"
    statted, read = set(), set()
    for line in log.read_text(errors="replace").splitlines():
        match = re.search(
            r'(openat|stat|lstat|newfstatat|statx)\((?:AT_FDCWD, |-?\d+, )?"([^"]*)"', line
        )
        if not match or "ENOENT" in line:
            continue
        path = match.group(2)
        if (
            not path.startswith(prefix)
            or "/.doit.db" in path
            or path.endswith("/dodo.py")
            or "/__pycache__/dodo." in path  # dodo.py's bytecode: doit's entry point, too
        ):
            continue
        if match.group(1) == "openat":
            if "O_DIRECTORY" not in line:
                read.add(path)
        else:
            statted.add(path)
    return str(len(statted)), str(len(read))


def timed(case: Case, root: Path, repeat: int, prepare=None, *args: str) -> None:
    for _ in range(repeat):
        if prepare is not None:
            prepare()
        doit(root, *args, case=case)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} has no {old!r}"
    path.write_text(text.replace(old, new, 1))


def add_context_files(root: Path, images: int, files: int) -> None:
    """~`files` files per image context, one of them unique to this run: images are content
    addressed, so the engine may hold an earlier run's image of the same content."""
    nonce = uuid.uuid4().hex
    for i in range(images):
        context = root / f"platform/images/img{i}/src"
        context.mkdir(parents=True, exist_ok=True)
        (context / "run.txt").write_text(nonce)
        for n in range(max(0, files - 3)):
            (context / f"module{n:03d}.py").write_text(f"VALUE = {n}  # image {i}\n" * 20)


LOOP_BASE = "dataplatform-bench/base:loop"


def docker_loop(root: Path, images: int, base: str) -> float:
    """`docker build` of every image context, one after another, on a base of its own (the
    same Dockerfiles, `FROM` changed): doit's images are the engine's build cache for the same
    Dockerfile on the same base, and the loop must not start warm from them."""
    import docker

    from support import busybox_base

    busybox_base(docker.from_env(), LOOP_BASE, "LABEL bench.variant=loop\n")
    prefix = f"bench-loop-{uuid.uuid4().hex[:6]}"
    start = time.perf_counter()
    for i in range(images):
        context = root / f"platform/images/img{i}"
        dockerfile = (context / "Dockerfile").read_text().replace(base, LOOP_BASE)
        subprocess.run(
            [
                "docker",
                "build",
                "-q",
                "--network",
                "host",
                "-f",
                "-",
                "-t",
                f"{prefix}/img{i}:latest",
                str(context),
            ],
            input=dockerfile.encode(),
            env={**env(), "DOCKER_BUILDKIT": "0"},
            capture_output=True,
            check=True,
        )
    elapsed = time.perf_counter() - start
    subprocess.run(
        ["docker", "rmi", *(f"{prefix}/img{i}:latest" for i in range(images))], capture_output=True
    )
    return elapsed


def dbt_loop(root: Path, names: list[str]) -> float:
    return dbt_build_loop(root, names, env())


def base_image(root: Path, shape: synthetic_repo.Shape, base: str) -> None:
    """Point every Dockerfile at `base` (a base this engine has; nothing is pulled here)."""
    for dockerfile in root.glob("**/Dockerfile"):
        dockerfile.write_text(dockerfile.read_text().replace("busybox:1.36", base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each cheap case")
    parser.add_argument("--jobs", type=int, default=2, help="doit -n for the first build")
    parser.add_argument(
        "--base",
        default="dataplatform-test/busybox:1",
        help="base image of the synthetic images (must be on the engine)",
    )
    parser.add_argument(
        "--registry",
        default="loopback",
        help="shared registry for the first doit to push to and the fresh "
        "clone to pull from: HOST[:PORT][/PREFIX], `loopback` (default: a "
        "docker-registry started here) or `none`",
    )
    parser.add_argument(
        "--loops", action="store_true", help="also time the dbt build / docker build loops (slow)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the synthetic repo")
    args = parser.parse_args()
    shape, files = SIZES[args.size]
    # a namespace of its own: at the end, exactly the images this run made are removed
    shape = dataclasses.replace(shape, namespace=f"dpbench-{uuid.uuid4().hex[:6]}")
    work = Path(tempfile.mkdtemp(prefix="dataplatform-bench-repo-"))
    servers = contextlib.ExitStack()
    registry = {"none": None, "loopback": None}.get(args.registry, args.registry)
    if args.registry == "loopback":
        (work / "registry").mkdir()
        registry = servers.enter_context(loopback_registry(work / "registry")) + "/bench"
    root = work / "repo"
    names = synthetic_repo.generate(root, shape)
    add_context_files(root, shape.images, files)
    for name in names:  # no landed CDC data here to build staging on: CDC pipelines stop at
        if (root / "pipelines" / name / "config/cdc.yaml").exists():  # configs and DDL
            shutil.rmtree(root / "pipelines" / name / "dbt")
    base_image(root, shape, args.base)
    synthetic_repo.git_init(root)
    synthetic_repo.git_commit(root, "synthetic monorepo")
    print(
        f"{len(names)} pipelines, {shape.images} image contexts of ~{files} files in {root}"
        f" ({load()})"
    )
    REGISTRY["DATAPLATFORM_REGISTRY"] = registry  # every doit pushes what it builds
    cases = Cases()
    try:
        first = Case("first doit" + (" (pushing)" if registry else ""))
        doit(root, "-n", str(args.jobs), "-P", "thread", case=first)
        cases.add(first)

        noop = Case("no-op")
        timed(noop, root, args.repeat)
        noop.statted, noop.read = file_counts(root)
        cases.add(noop)

        model = root / "pipelines/p001/dbt/models/marts/orders.sql"
        flip = iter(range(10**6))
        one_model = Case("one dbt model changed")
        timed(
            one_model,
            root,
            args.repeat,
            lambda: model.write_text(model.read_text() + f"-- edit {next(flip)}\n"),
        )
        cases.add(one_model)

        cdc = root / "pipelines/p000/config/cdc.yaml"
        column = Case("one CDC column changed")
        timed(
            column,
            root,
            args.repeat,
            lambda: edit(
                cdc, "      Id: bigint\n", f"      Id: bigint\n      Extra{next(flip)}: int\n"
            ),
        )
        cases.add(column)

        script = root / "platform/images/img0/entry.sh"
        image = Case("one image file changed")
        timed(
            image,
            root,
            args.repeat,
            lambda: script.write_text(script.read_text() + f"echo {next(flip)}\n"),
        )
        cases.add(image)

        touch = Case("touch-all")
        later = time.time() - 3600  # in the past: a future mtime is "racily clean" for long

        def touch_all() -> None:
            nonlocal later
            later += 10
            for path in root.rglob("*"):
                if ".git" not in path.parts and path.is_file():
                    os.utime(path, (later, later))

        timed(touch, root, 1, touch_all)
        cases.add(touch)
        after_touch = Case("no-op after touch-all")
        timed(after_touch, root, args.repeat)
        after_touch.statted, after_touch.read = file_counts(root)
        cases.add(after_touch)

        clone = Case("fresh clone, warm registry" if registry else "fresh clone, same engine")
        synthetic_repo.git_commit(root, "edits")
        target = work / "clone"
        subprocess.run(["git", "clone", "-q", str(root), str(target)], check=True)
        if registry:  # another machine: the registry has the images, the engine does not
            remove_namespace_images(shape.namespace)
        doit(target, "-n", str(args.jobs), "-P", "thread", case=clone)
        cases.add(clone)

        listing = Case("doit list")
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(
                [str(BIN / "python"), "-m", "doit", "list"],
                cwd=root,
                env=env(),
                capture_output=True,
                check=True,
            )
            listing.seconds.append(time.perf_counter() - start)
        cases.add(listing)
        info = Case("doit info dbt:p001")
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(
                [str(BIN / "python"), "-m", "doit", "info", "dbt:p001"],
                cwd=root,
                env=env(),
                capture_output=True,
                check=True,
            )
            info.seconds.append(time.perf_counter() - start)
        cases.add(info)

        print(f"\n({load()})")
        if args.loops:
            with_dbt = [n for n in names if (root / "pipelines" / n / "dbt").is_dir()]
            loops = {
                f"dbt build loop ({len(with_dbt)})": dbt_loop(root, with_dbt),
                f"docker build loop ({shape.images})": docker_loop(root, shape.images, args.base),
            }
            total = sum(loops.values())
            for name, seconds in loops.items():
                print(f"{name:28} {seconds:9.3f}")
            print(
                f"loops ÷ doit: first doit {total / first.seconds[0]:.2f}×, fresh clone "
                f"{total / clone.seconds[0]:.2f}×, no-op "
                f"{total / statistics.median(noop.seconds):.0f}×"
            )
    finally:
        remove_namespace_images(shape.namespace)
        servers.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    floor = []
    for code in ("pass", "import doit"):
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([str(BIN / "python"), "-c", code], check=True)
            runs.append(time.perf_counter() - start)
        floor.append(f"python -c {code!r}: {statistics.median(runs):.3f} s")
    print("interpreter floor: " + "; ".join(floor))


if __name__ == "__main__":
    main()
