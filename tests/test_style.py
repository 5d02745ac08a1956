"""The code's style is checked, not hoped for: `ruff check` (the lint rules of pyproject.toml)
and `ruff format --check` over the whole repository, as CI runs the README's test command.
A file someone forgot to format fails here with ruff's own diff of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO, require

RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.parametrize(
    "command", [["check"], ["format", "--check", "--diff"]], ids=["lint", "format"]
)
def test_the_repository_is_ruff_clean(command: list[str]) -> None:
    require(RUFF.exists(), "ruff is not installed — pip install -e '.[dev]'")
    result = subprocess.run(
        [str(RUFF), *command, "."], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
