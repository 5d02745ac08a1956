"""The one edge between user errors and doit (`dataplatform.build.actions`): a `UserError`
raised in a task's action is one `✗ task: message — fix` line with no traceback, and every task
creator's python-actions go through it; one found while creating the tasks is the same line
(`build.reporter.stop_loading`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dataplatform.build.actions import Action
from dataplatform.errors import UserError
from dataplatform.graph.load import load_graph
from dataplatform.project import Project
from support import REPO, clean_env, new_checkout

THROWAWAY_DODO = """
from dataplatform.build.actions import action
from dataplatform.build.dodo import doit_config
from dataplatform.errors import ConfigError, UserError

DOIT_CONFIG = doit_config()


def _bad(what):
    raise UserError(f"{what} is wrong", fix="do this instead")


def _bad_file():
    raise ConfigError("pipeline.yaml", 3, "cdc.tables", "not a list", "write a list")


def _bug():
    raise KeyError("a bug")


def task_boom():
    return {"actions": [action(_bad, "the thing")], "verbosity": 2}


def task_file():
    return {"actions": [action(_bad_file)], "verbosity": 2}


def task_bug():
    return {"actions": [action(_bug)], "verbosity": 2}


def _engine_says_no():
    import docker.errors

    raise docker.errors.ImageNotFound("404 Client Error", explanation="No such image: nope:1")


def task_engine():
    return {"actions": [action(_engine_says_no)], "verbosity": 2}
"""


def _doit(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doit", *args],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_user_error_in_an_action_is_one_line_with_its_fix(tmp_path: Path) -> None:
    (tmp_path / "dodo.py").write_text(THROWAWAY_DODO)
    result = _doit(tmp_path, "boom")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert [line for line in output.splitlines() if line.startswith("✗")] == [
        "✗ boom: the thing is wrong — do this instead"
    ]
    assert "Traceback" not in output

    result = _doit(tmp_path, "file")
    output = result.stdout + result.stderr
    assert [line for line in output.splitlines() if line.startswith("✗")] == [
        "✗ file: pipeline.yaml:3: cdc.tables: not a list — write a list"
    ]
    assert "Traceback" not in output


def test_a_bug_in_an_action_keeps_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "dodo.py").write_text(THROWAWAY_DODO)
    result = _doit(tmp_path, "bug")
    assert result.returncode != 0
    assert "Traceback" in result.stdout + result.stderr
    assert "KeyError" in result.stdout + result.stderr


def test_every_python_action_the_repository_declares_goes_through_the_adapter() -> None:
    graph = load_graph(Project(REPO))
    python_actions = [
        (name, action.py_callable)
        for name, task in graph.tasks.items()
        for action in task.actions
        if hasattr(action, "py_callable")
    ]
    assert python_actions, "the repository declares no python-action: nothing was checked"
    assert [name for name, fn in python_actions if not isinstance(fn, Action)] == []


def test_every_task_creator_builds_its_actions_with_the_adapter() -> None:
    """Also the branches the repository's own pipelines do not take (a stale output, a broken
    file): each element of every `"actions": [...]` list in build/ is `action(…)` or
    `failing(…)`."""
    checked = 0
    for path in sorted((REPO / "lib" / "dataplatform" / "build").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "actions":
                    assert isinstance(value, ast.List), f"{path.name}:{value.lineno}"
                    for element in value.elts:
                        checked += 1
                        assert (
                            isinstance(element, ast.Call)
                            and isinstance(element.func, ast.Name)
                            and element.func.id in {"action", "failing"}
                        ), f"{path.name}:{element.lineno}: {ast.unparse(element)}"
    assert checked >= 10


def test_a_user_error_found_while_loading_is_the_same_one_line(tmp_path: Path) -> None:
    """A bad pipeline.yaml stops doit before any task runs (and `doit list`), shown through
    the reporter's edge: `✗ file:line: key: problem — fix`, exit code 3, no traceback, no
    doit `ERROR:` prefix; also when the checkout was loaded fine (and cached) before."""
    root = new_checkout(tmp_path / "repo")
    manifest = root / "pipelines/alpha/pipeline.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("name: alpha\ndescription: fine\n")
    assert _doit(root, "list").returncode == 0
    manifest.write_text("name: alpha\ndesription: typo\n")
    expected = (
        "✗ pipelines/alpha/pipeline.yaml:2: desription: unknown key — did you mean 'description'?"
    )
    for args in ((), ("list",), ("info", "dbt")):
        result = _doit(root, *args)
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.stderr.strip() == expected, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert not result.stdout.startswith(".")  # nothing ran


def test_a_workflow_command_gets_the_load_error_as_a_user_error(tmp_path: Path) -> None:
    """`invoke affected/why/graph` load the tasks in their own process and render the error on
    the invoke edge: the Loader raises it there instead of stopping the process."""
    root = new_checkout(tmp_path / "repo")
    (root / "platform/services.yaml").write_text("namespace: [not, a, name]\nservices: {}\n")
    with pytest.raises(UserError) as raised:
        load_graph(Project(root))
    assert str(raised.value).startswith("platform/services.yaml:1: namespace:")


def test_an_error_the_engine_answered_is_the_same_one_line_on_both_edges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error the Docker engine answered (the docker SDK's exception, raised here as the SDK
    raises it for a 404 — the edges' rendering is what is checked, so no engine is needed)
    is one `✗ Docker engine error: …` line through doit's edge and invoke's alike."""
    (tmp_path / "dodo.py").write_text(THROWAWAY_DODO)
    result = _doit(tmp_path, "engine")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    doit_line = [line for line in output.splitlines() if line.startswith("✗")]
    assert doit_line == ["✗ engine: Docker engine error: No such image: nope:1"]

    import docker.errors
    from invoke.exceptions import Exit

    from dataplatform.cli.common import one_line_errors

    @one_line_errors
    def command() -> None:
        raise docker.errors.ImageNotFound("404 Client Error", explanation="No such image: nope:1")

    with pytest.raises(Exit) as raised:
        command()
    assert raised.value.code == 1
    assert capsys.readouterr().err.strip() == "✗ Docker engine error: No such image: nope:1"
