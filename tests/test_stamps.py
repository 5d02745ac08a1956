"""`build.stamps.MD5Checker`, doit's file checker, in real doit runs of a tiny dodo: a file_dep's
content is read once per run however many tasks use it and whether or not they run, and a
file_dep rewritten while its task ran has its new digest stored.

The reads are counted in the doit process itself by an audit hook on `open` (no patching: any
way of reading the file counts)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import clean_env

DODO = """
import os, sys
from pathlib import Path
from dataplatform.build.stamps import MD5Checker

DOIT_CONFIG = {"backend": "sqlite3", "dep_file": ".doit.db",
               "check_file_uptodate": MD5Checker, "verbosity": 2}


def rewrite(stamp):
    # a task rewriting its own input (a formatter): same size, new content, a given stamp
    Path("data.txt").write_text("cccc")
    os.utime("data.txt", (float(stamp), float(stamp)))


def task_use():
    for name in ("one", "two"):  # two tasks sharing a file_dep
        yield {"name": name, "file_dep": ["input.txt"], "actions": ["echo ran > ran-" + name]}


def task_rewrite():
    return {"file_dep": ["data.txt"], "actions": [(rewrite, [os.environ.get("STAMP", "0")])]}
"""

AUDITED = """
import atexit, collections, json, os, runpy, sys
out = sys.argv[1]
reads = collections.Counter()
def hook(event, args):
    if event != "open" or not isinstance(args[0], str) or not args[0].endswith(".txt"):
        return
    if isinstance(args[1], str) and "r" in args[1] and "+" not in args[1]:
        reads[os.path.basename(args[0])] += 1
sys.addaudithook(hook)
atexit.register(lambda: open(out, "w").write(json.dumps(reads)))
sys.argv = ["doit", *sys.argv[2:]]
runpy.run_module("doit", run_name="__main__", alter_sys=True)
"""


def doit(root: Path, *args: str, **env: str) -> tuple[list[str], dict[str, int]]:
    """`doit ARGS` in `root`: the tasks it ran, and how many times it opened each .txt file for
    reading."""
    script, counts = root / "audited.py", root / "reads.json"
    script.write_text(AUDITED)
    done = subprocess.run(
        [sys.executable, str(script), str(counts), *args],
        cwd=root,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = sorted(line[3:] for line in done.stdout.splitlines() if line.startswith(".  "))
    return ran, json.loads(counts.read_text())


def put(path: Path, text: str, age: float) -> float:
    """Write `text` with an mtime `age` seconds ago (an edit made a while before the run; a file
    stamped just now is hashed each time it is asked, see stamps' docstring)."""
    path.write_text(text)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return stamp


def stored_md5(root: Path, task: str, dep: str) -> str:
    """The md5 doit's database holds for `task`'s file_dep `dep`."""
    with sqlite3.connect(root / ".doit.db") as db:
        (data,) = db.execute("select task_data from doit where task_id = ?", (task,)).fetchone()
    return json.loads(data)[dep][2]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "dodo.py").write_text(DODO)
    return tmp_path


@pytest.mark.parametrize("parallel", [(), ("-n", "2", "-P", "thread")], ids=["serial", "threads"])
def test_a_changed_file_dep_is_read_once_for_every_task_that_runs(
    root: Path, parallel: tuple[str, ...]
) -> None:
    """Before: read while deciding and again while saving, for each task (4 reads here)."""
    put(root / "input.txt", "aaaa", age=100)
    ran, reads = doit(root, *parallel, "use")
    assert ran == ["use:one", "use:two"]
    assert reads["input.txt"] == 1

    put(root / "input.txt", "bbbb", age=50)  # same size, new content, new stamp
    ran, reads = doit(root, *parallel, "use")
    assert ran == ["use:one", "use:two"]
    assert reads["input.txt"] == 1
    assert stored_md5(root, "use:one", "input.txt") == hashlib.md5(b"bbbb").hexdigest()

    ran, reads = doit(root, *parallel, "use")
    assert (ran, reads.get("input.txt", 0)) == ([], 0)


@pytest.mark.parametrize("stamp_kept", [False, True], ids=["new-stamp", "same-stamp"])
def test_a_file_dep_rewritten_while_its_task_ran_gets_its_new_digest(
    root: Path, stamp_kept: bool
) -> None:
    """The task rewrites its input after doit hashed it (same size; with `same-stamp` it even
    puts back the mtime doit saw): doit stores the digest of what the file holds now, so a later
    touch of that content runs nothing and a real edit runs the task."""
    data = root / "data.txt"
    put(data, "aaaa", age=100)
    assert doit(root, "rewrite")[0] == ["rewrite"]

    seen = put(data, "bbbb", age=50)
    stamp = seen if stamp_kept else time.time() - 20
    ran, reads = doit(root, "rewrite", STAMP=repr(stamp))
    assert ran == ["rewrite"]
    assert data.read_text() == "cccc"
    assert reads["data.txt"] == 2  # hashed, rewritten by the task, hashed anew
    assert stored_md5(root, "rewrite", "data.txt") == hashlib.md5(b"cccc").hexdigest()

    put(data, "cccc", age=10)  # touched: the same content
    assert doit(root, "rewrite")[0] == []
    put(data, "dddd", age=5)
    assert doit(root, "rewrite")[0] == ["rewrite"]
