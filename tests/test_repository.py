"""The repository itself: its layout, its quickstart, its CI script and its own doit tasks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support import REPO, clean_env

LAYOUT = [
    "dodo.py",
    "tasks.py",
    "pyproject.toml",
    "lib/dataplatform",
    "templates",
    "pipelines/shared/macros",
    "pipelines/shared/tests",
    "pipelines/shared/schemas",
    "pipelines/shared/utilities",
    "pipelines/_templates",
    "platform/images",
    "platform/orchestration",
    "platform/monitoring",
    "platform/security",
    "platform/governance",
    "tools/cli",
    "tools/scripts",
    "tools/testing",
    "tests",
]


def test_layout_is_complete() -> None:
    missing = [path for path in LAYOUT if not (REPO / path).exists()]
    assert missing == []
    assert not (REPO / "platform/__init__.py").exists(), "it would shadow the stdlib platform"


def quickstart() -> list[str]:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README needs a Quickstart with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    commands = quickstart()
    assert len(commands) == 2
    assert commands[0].endswith("doit")
    ci_lines = [
        line.strip()
        for line in (REPO / ".ci/run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert ci_lines[-1] == commands[1]


def test_own_tasks_load_and_list_the_example_image() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "doit", "list", "--all"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^image:tools\s", result.stdout, re.M)


def test_doit_configuration_is_pinned() -> None:
    from dataplatform.build.dodo import doit_config

    config = doit_config()
    assert config["backend"] == "sqlite3" and config["dep_file"] == ".doit.db"
    assert config["minversion"]


def test_invoke_lists_the_cache_commands() -> None:
    invoke = str(Path(sys.executable).with_name("invoke"))
    result = subprocess.run(
        [invoke, "--list"], cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "cache.status" in result.stdout and "cache.clean" in result.stdout
