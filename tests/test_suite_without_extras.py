"""The test suite itself on a machine without the dbt extra: the dbt test modules are skipped
with the reason (not collection errors that stop the run), and fail under CI=true.

The missing extra is simulated by a pytest plugin that makes `duckdb` and `dbt` unimportable in
a child pytest: installing and uninstalling packages in the shared venv is not an option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import REPO, clean_env

DBT_MODULES = ["tests/test_dbt_tasks.py", "tests/test_cdc_dbt.py"]

BLOCKER = """
import sys


class _NoDbtExtra:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("duckdb", "dbt"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoDbtExtra())
"""


def _pytest_without_dbt(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "no_dbt_extra.py").write_text(BLOCKER)
    environment = clean_env(PYTHONPATH=str(tmp_path), **env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no_dbt_extra",
            "-p",
            "no:cacheprovider",
            *DBT_MODULES,
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dbt_modules_skip_with_the_reason_without_the_extra(tmp_path: Path) -> None:
    result = _pytest_without_dbt(tmp_path)
    # 5: no tests collected (both modules skipped whole); a collection error would be 2
    assert result.returncode == 5, result.stdout + result.stderr
    assert "2 skipped" in result.stdout and "error" not in result.stdout.lower()
    assert result.stdout.count("the dbt extra is not installed") == 1  # one line for both
    assert "pip install -e '.[dev,dbt]'" in result.stdout


def test_dbt_modules_fail_under_ci_without_the_extra(tmp_path: Path) -> None:
    result = _pytest_without_dbt(tmp_path, CI="true")
    assert result.returncode != 0
    assert "CI=true: a missing package fails instead of skipping" in result.stdout
