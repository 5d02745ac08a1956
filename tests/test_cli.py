"""The invoke commands as a user types them: `--help` on every command, numeric options given
nonsense, and output read through a pipe (CI logs) rather than a terminal.

Every command is run as a real `invoke` process in a throwaway checkout. "Never contacts Docker"
is observed, not assumed: DOCKER_HOST points at a unix socket the test listens on, and the test
counts the connections made to it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from invoke import Task

from dataplatform.cli.common import command, count, seconds
from dataplatform.cli.namespace import build_namespace
from support import TempProject

COMMANDS = sorted(build_namespace().task_names)


@dataclass
class FakeEngine:
    """A unix socket standing where the Docker engine would be; it counts who knocks and hangs
    up at once (so a command that does contact it fails fast instead of waiting)."""

    path: Path
    connections: int = 0
    _server: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def engine(tmp_path_factory) -> Iterator[FakeEngine]:
    # A short path: unix socket paths are limited to ~100 bytes.
    folder = Path(tmp_path_factory.mktemp("eng", numbered=True))
    fake = FakeEngine(folder / "d.sock")
    yield fake
    fake.close()


def invoke(project: TempProject, engine: FakeEngine, *args: str):
    return project.invoke(
        *args, DOCKER_HOST=engine.url, DOCKER_CONTEXT=None, DOCKER_CONFIG=str(engine.path.parent)
    )


def flags_of(task: Task) -> list[str]:
    # names[0] is the flag as invoke spells it (`from_` → `--from`, `dry_run` → `--dry-run`)
    return [f"--{arg.names[0]}" for arg in task.get_arguments()]


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("spelling", ["--help", "-h"])
def test_every_command_prints_its_help_and_touches_nothing(
    project: TempProject, engine: FakeEngine, name: str, spelling: str
) -> None:
    """`invoke CMD --help` prints CMD's help, documents every option and contacts no engine —
    also for commands with a positional argument, which invoke 3.0 used to hand `--help` to."""
    task = build_namespace()[name]
    result = invoke(project, engine, name, spelling)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("Usage: ") and f" {name} " in result.stdout.splitlines()[0]
    docstring = result.stdout.split("Docstring:\n", 1)[1].split("\nOptions:", 1)[0]
    assert docstring.strip() and docstring.strip() != "none"
    options = result.stdout.split("Options:\n", 1)[1]
    for flag in flags_of(task):
        line = next((ln for ln in options.splitlines() if re.search(rf"{flag}\b", ln)), None)
        assert line is not None, f"{flag} missing from the help of {name}:\n{result.stdout}"
        assert re.search(rf"{flag}\S*\s{{2,}}\S", line), f"{flag} of {name} has no help text"
    assert engine.connections == 0
    assert not (project.root / "compose.yaml").exists()  # `compose --help` wrote nothing
    assert not (project.root / "pipelines").exists()  # `create-pipeline --help` created nothing


@pytest.mark.parametrize("name", COMMANDS)
def test_every_parameter_of_every_command_has_help_text(name: str) -> None:
    task = build_namespace()[name]
    for argument in task.get_arguments():
        assert argument.help, f"invoke {name}: --{argument.name} has no help text"
    # Building a command's arguments twice (a second Program in the process) keeps them.
    assert [a.help for a in task.get_arguments()] == [a.help for a in task.get_arguments()]


def test_a_command_without_help_for_a_parameter_is_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="no help text for colour"):

        @command(name="paint")
        def paint(c, colour="red"):
            """Paint it."""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["up", "--timeout", "abc"],
            "✗ --timeout: 'abc' is not a number of seconds — e.g. --timeout 120",
        ),
        (
            ["restart", "db", "--timeout", "abc"],
            "✗ --timeout: 'abc' is not a number of seconds — e.g. --timeout 120",
        ),
        (
            ["logs", "db", "--tail", "abc"],
            "✗ --tail: 'abc' is not a whole number of lines — e.g. --tail 50",
        ),
        (
            ["logs", "db", "--tail", "1.5"],
            "✗ --tail: '1.5' is not a whole number of lines — e.g. --tail 50",
        ),
        (["logs", "db", "--tail", "-3"], "✗ --tail: '-3' must be at least 0 — e.g. --tail 50"),
        (["up", "--timeout", "0"], "✗ --timeout: '0' must be more than 0 — e.g. --timeout 120"),
        (
            ["up", "--timeout", "inf"],
            "✗ --timeout: 'inf' is not a number of seconds — e.g. --timeout 120",
        ),
    ],
)
def test_a_bad_number_is_one_line_before_anything_runs(
    project: TempProject, engine: FakeEngine, args: list[str], message: str
) -> None:
    result = invoke(project, engine, *args)
    assert result.returncode == 1
    assert result.stderr == message + "\n"
    assert result.stdout == ""
    assert engine.connections == 0


def test_numeric_options_keep_their_value_and_default() -> None:
    timeout, tail = seconds("--timeout", 300), count("--tail", 100)
    assert type(timeout)("120.5") == 120.5 and timeout == 300.0 and str(timeout) == "300"
    assert type(tail)(" 7 ") == 7 and tail == 100 and str(tail) == "100"


def _long_directory(root: Path) -> Path:
    folder = root / ("a-rather-long-folder-name-that-a-ci-runner-might-well-use-" * 3)
    folder.mkdir(parents=True)
    return folder


def test_doctor_lines_are_whole_through_a_pipe(
    project: TempProject, engine: FakeEngine, tmp_path: Path
) -> None:
    """doctor read by a pipe (a CI log) gets each check on one full line, not cut at 80
    columns: the git check shows a long path to git intact."""
    folder = _long_directory(tmp_path)
    git = shutil.which("git")
    assert git is not None
    (folder / "git").symlink_to(git)
    result = project.invoke(
        "doctor",
        PATH=f"{folder}:{os.environ['PATH']}",
        DOCKER_HOST=engine.url,
        DOCKER_CONTEXT=None,
        COLUMNS="80",
    )
    line = next(ln for ln in result.stdout.splitlines() if re.match(r"^\S git ", ln))
    assert line.endswith(f"{folder}/git"), result.stdout
    assert re.search(r"^\d+ ok, \d+ warning\(s\), \d+ failed$", result.stdout, re.M)


@pytest.mark.docker
def test_status_table_is_whole_through_a_pipe(
    project: TempProject, docker_client, busybox_image: str
) -> None:
    """invoke status read by a pipe: a long service name stays on its row, uncut."""
    service = "ingest-" + "-".join(["warehouse-replica"] * 3)  # 60 of a hostname's 63
    assert len(service) > 50  # with the state column, longer than 80 columns
    project.services(f"  {service}:\n    image: {busybox_image}\n    command: [sleep, '60']\n")
    result = project.invoke("status", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    row = next((ln for ln in result.stdout.splitlines() if service in ln), None)
    assert row is not None, result.stdout
    assert "absent" in row
