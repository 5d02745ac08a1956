"""A no-op `doit` imports only what a no-op needs: not the docker SDK, Jinja2, cookiecutter,
dbt or rich (they load inside the actions that use them).

A throwaway checkout with a CDC pipeline (cdc, warehouse and dbt tasks), an image built on a
real engine and one whose base cannot be pulled (offline) is built once; then `doit` runs
again through a wrapper that writes `sorted(sys.modules)` at exit, and the test asserts what
is absent."""

from __future__ import annotations

import json
import sys

from support import TempProject, clean_env, copy_from_checkout, executed, require_dbt_extra, run

require_dbt_extra()  # skips (fails under CI) without the dbt extra

HEAVY = ("docker", "jinja2", "cookiecutter", "dbt", "rich", "requests", "duckdb")
WRAPPER = """\
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["doit", *sys.argv[2:]]
runpy.run_module("doit", run_name="__main__", alter_sys=True)
"""


def test_a_no_op_imports_no_heavy_package(project: TempProject, busybox_image: str) -> None:
    for part in ("platform/cdc", "pipelines/shared", "pipelines/erp_cdc"):
        copy_from_checkout(part, project.root)
    project.write("platform/images/tool/Dockerfile", f"FROM {busybox_image}\nCOPY . /app\n")
    project.write("platform/images/tool/run.sh", "echo run\n")
    # offline, an image whose base the engine cannot get is re-attempted by every run: the
    # attempt (one inspect, one failed pull) needs no docker SDK either
    project.write("platform/images/offline/Dockerfile", "FROM 127.0.0.1:9/offline/base:1\n")
    project.services("  tool:\n    build: images/tool\n  offline:\n    build: images/offline\n")
    first = project.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    assert {"image:tool", "cdc:erp_cdc", "dbt:erp_cdc"} <= set(executed(first)), first.stdout

    wrapper = project.root.parent / "imports_at_exit.py"
    wrapper.write_text(WRAPPER)
    listing = project.root.parent / "modules.json"
    again = run([sys.executable, str(wrapper), str(listing)], project.root, clean_env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert executed(again) == ["image:offline"], again.stdout
    assert "did not build image:offline (127.0.0.1:9/offline/base:1)" in again.stdout
    modules = json.loads(listing.read_text())
    assert "dataplatform.build.dodo" in modules  # the wrapper did see the run
    loaded = sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})
    assert loaded == [], f"a no-op imported {loaded}"
    # an unchanged source-groups.yaml is not read and validated again
    assert "dataplatform.cdc.loader" not in modules
