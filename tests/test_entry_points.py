"""`doit` and `invoke` work from any folder of a checkout, not only from its root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import TempProject, clean_env, copy_from_checkout, require, run

SEEKING_DOIT = [sys.executable, "-m", "dataplatform.build.doit_main"]


def _checkout(project: TempProject) -> tuple[Path, Path]:
    """A checkout with one pipeline declaring an image; returns the pipeline's folder and a
    folder deep inside it."""
    project.services("")
    project.write(
        "pipelines/sales/pipeline.yaml",
        "name: sales\nowner: data-eng\nimages:\n  loader:\n    context: docker\n",
    )
    project.write("pipelines/sales/docker/Dockerfile", "FROM scratch\nCOPY load.sh /\n")
    project.write("pipelines/sales/docker/load.sh", "echo load\n")
    deep = project.root / "pipelines/sales/notebooks/exploration/2026/q4"
    deep.mkdir(parents=True)
    return project.root / "pipelines/sales", deep


def _doit(command: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # No engine: the image task is skipped with one line, which names what doit loaded.
    return run(
        [*command, *args],
        cwd,
        clean_env(DOCKER_HOST="unix:///nonexistent/docker.sock", DOCKER_CONTEXT=None),
    )


def test_doit_from_a_pipeline_folder_and_a_deep_subfolder(project: TempProject) -> None:
    pipeline, deep = _checkout(project)
    for where in (pipeline, deep):
        listed = _doit(SEEKING_DOIT, where, "list", "--all")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert "image:sales-loader" in listed.stdout
    ran = _doit(SEEKING_DOIT, deep)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Docker engine not reachable" in ran.stdout and "image:sales-loader" in ran.stdout
    # it ran from the checkout's root: its state is there, not in the folder it was started in
    assert (project.root / ".doit.db").exists()
    assert not list(deep.glob(".doit.db*")) and not list(pipeline.glob(".doit.db*"))


def test_plain_doit_without_seeking_still_needs_the_root(project: TempProject) -> None:
    """What the entry point changes: doit's own lookup only looks in the current folder."""
    _, deep = _checkout(project)
    plain = _doit([sys.executable, "-m", "doit"], deep, "list")
    assert plain.returncode == 3 and "Could not find dodo file" in plain.stderr
    turned_off = run([*SEEKING_DOIT, "list"], deep, clean_env(DOIT_SEEK_FILE="0"))
    assert turned_off.returncode == 3


def test_the_installed_doit_command_is_the_seeking_one(project: TempProject) -> None:
    script = Path(sys.executable).with_name("doit")
    require(
        script.exists() and "dataplatform.build.doit_main" in script.read_text(),
        f"{script} is doit's own script: this venv was installed before the toolkit's "
        "`doit` entry point — run `pip install -e .` again",
    )
    _, deep = _checkout(project)
    listed = _doit([str(script)], deep, "list", "--all")
    assert listed.returncode == 0 and "image:sales-loader" in listed.stdout, listed.stderr


def test_invoke_from_a_deep_subfolder(project: TempProject) -> None:
    _, deep = _checkout(project)
    copy_from_checkout("pipelines/_templates", project.root)
    invoke = str(Path(sys.executable).with_name("invoke"))
    made = run([invoke, "create-pipeline", "fresh"], deep, clean_env())
    assert made.returncode == 0, made.stdout + made.stderr
    assert (project.root / "pipelines/fresh/pipeline.yaml").exists()
    assert not (deep / "pipelines").exists()
