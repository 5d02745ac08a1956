"""A no-op `doit` imports only what a no-op needs: not the docker SDK, Jinja2, cookiecutter,
dbt or rich (they load inside the actions that use them).

A throwaway checkout with a CDC pipeline (cdc, warehouse and dbt tasks), an image built on a
real engine and one whose base cannot be pulled (offline) is built once; then `doit` runs
again through a wrapper that writes `sorted(sys.modules)` and the files opened at exit, and
the test asserts what is absent: also YAML (the tasks come from the load cache) and any
input file."""

from __future__ import annotations

import json
import sys
import time

import pytest

from dataplatform.build import load_cache
from support import TempProject, clean_env, copy_from_checkout, executed, require_dbt_extra, run

require_dbt_extra()  # skips (fails under CI) without the dbt extra

HEAVY = ("docker", "jinja2", "cookiecutter", "dbt", "rich", "requests", "duckdb", "yaml")
# the modules loaded and the files opened for reading (an audit hook on "open"), written at exit
WRAPPER = """\
import atexit, json, os, runpy, sys
out = sys.argv[1]
opened = []
def writes(mode, flags):
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR))
sys.addaudithook(lambda event, args: opened.append(os.path.abspath(args[0])) if event == "open"
                 and isinstance(args[0], str) and not writes(*args[1:3]) else None)
atexit.register(lambda: open(out, "w").write(json.dumps({"modules": sorted(sys.modules),
                                                         "opened": opened})))
sys.argv = ["doit", *sys.argv[2:]]
runpy.run_module("doit", run_name="__main__", alter_sys=True)
"""


@pytest.mark.docker
def test_a_no_op_imports_no_heavy_package(project: TempProject, busybox_image: str) -> None:
    for part in ("platform/cdc", "pipelines/shared", "pipelines/erp_cdc"):
        copy_from_checkout(part, project.root)
    project.write("platform/images/tool/Dockerfile", f"FROM {busybox_image}\nCOPY . /app\n")
    project.write("platform/images/tool/run.sh", "echo run\n")
    project.write("platform/images/tool/.dockerignore", "*.md\n")
    # offline, an image whose base the engine cannot get is re-attempted by every run: the
    # attempt (one inspect, one failed pull) needs no docker SDK either
    project.write("platform/images/offline/Dockerfile", "FROM 127.0.0.1:9/offline/base:1\n")
    project.services("  tool:\n    build: images/tool\n  offline:\n    build: images/offline\n")
    first = project.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    assert {"image:tool", "cdc:erp_cdc", "dbt:erp_cdc"} <= set(executed(first)), first.stdout

    # the load cache keeps a load only of files older than its racy window: one plain no-op
    # past it keeps the tasks, so the next one is warm
    time.sleep(load_cache.RACY_NS / 1e9)
    assert project.doit().returncode == 0

    wrapper = project.root.parent / "imports_at_exit.py"
    wrapper.write_text(WRAPPER)
    listing = project.root.parent / "modules.json"
    again = run([sys.executable, str(wrapper), str(listing)], project.root, clean_env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert executed(again) == ["image:offline"], again.stdout
    assert "did not build image:offline (127.0.0.1:9/offline/base:1)" in again.stdout
    seen = json.loads(listing.read_text())
    modules = seen["modules"]
    # no input file is opened: no services.yaml, pipeline.yaml, source group, dbt project,
    # generated manifest, image context file or .dockerignore (doit's database and dodo.py
    # aside, the toolkit's own state files, and the offline image, whose re-attempt reads
    # the FROM of its Dockerfile)
    root = str(project.root) + "/"
    state = root + ".dataplatform/"
    inputs = sorted(
        {
            p
            for p in seen["opened"]
            if p.startswith(root)
            and not p.startswith((state, root + "platform/images/offline/"))
            and ".doit.db" not in p
            and "__pycache__" not in p
            and not p.endswith("/dodo.py")
        }
    )
    assert inputs == [], f"a no-op opened {inputs}"
    # of the state files, the load cache only, once (the images' stat caches are in it), and
    # the run record, which the offline image's attempt updates
    state_files = sorted({p[len(state) :] for p in seen["opened"] if p.startswith(state)})
    assert state_files == ["last-run.json", "load-cache.json"]
    assert seen["opened"].count(state + "load-cache.json") == 1
    assert "dataplatform.build.dodo" in modules  # the wrapper did see the run
    loaded = sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})
    assert loaded == [], f"a no-op imported {loaded}"
    # an unchanged source-groups.yaml is not read and validated again
    assert "dataplatform.cdc.loader" not in modules
