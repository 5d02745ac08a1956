"""doit's load cache (`dataplatform.build.load_cache`): a load whose inputs did not change makes
the same tasks without opening an input file; any change of a file or folder listing the last
load read, or of a variable it read, makes the next load a real one that sees the change.

A synthetic checkout (tools/testing/synthetic_repo.py: dbt pipelines, CDC pipelines, an image)
is loaded in this process with the real Loader. Its files are dated a minute back before a load
that should be kept: a file stamped within the racy window of a load is, by design, not trusted
(a second change in the same clock tick could keep its stamp). "The truth" is a load of the same
checkout with no cache at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import synthetic_repo  # tools/testing, on pytest's pythonpath

from dataplatform.build import load_cache
from dataplatform.build.dodo import Deferred, Loader
from dataplatform.build.runstate import RUN
from support import clean_env

SHAPE = synthetic_repo.Shape(
    pipelines=4,
    cdc_every=2,
    groups=1,
    tenants=2,
    tables=2,
    images=1,
    image_every=1000,
    namespace="dploadcache",
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    synthetic_repo.generate(root, SHAPE)
    for name in (
        "CI",
        "DATAPLATFORM_DBT_TARGET",
        "DATAPLATFORM_REGISTRY",
        "DATAPLATFORM_STRICT",
        "DATAPLATFORM_ROOT",
    ):
        monkeypatch.delenv(name, raising=False)
    return root


def age(root: Path) -> None:
    """Date every file and folder of the checkout a minute back (out of the racy window)."""
    stamp = time.time() - 60
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.utime(os.path.join(folder, name), (stamp, stamp), follow_symlinks=False)
    os.utime(root, (stamp, stamp))


def summary(loader: Loader) -> dict[str, Any]:
    """What doit gets from a load, comparable across loads: every task's plain fields, its
    uptodate checks as data, and what its actions are."""
    found = {}
    for group, tasks in loader.tasks().items():
        for task in tasks:
            name = (
                task["basename"]
                if task.get("name") is None
                else f"{task['basename']}:{task['name']}"
            )
            kept = load_cache.encode_tasks(
                [{k: v for k, v in task.items() if k not in ("actions", "clean", "io")}]
            )[0]
            plain = {**kept.pop("raw"), **kept.pop("enc"), **kept}
            plain["actions"] = [_action_kind(a) for a in task.get("actions", [])]
            plain["clean"] = len(task.get("clean", []))
            found[name] = (group, plain)
    found["(run state)"] = (RUN.namespace, RUN.registry, RUN.strict)
    found["(services)"] = loader.services()
    return found


def _action_kind(action: Any) -> str:
    """An action kept as plain data, as that data; one that is not (a function), "deferred":
    what a cold load has there, a warm load rebuilds as a Deferred."""
    if isinstance(action, Deferred):
        return "deferred"
    kept = load_cache._kept_action(action)
    return "deferred" if kept is None else json.dumps(kept, sort_keys=True)


def load(root: Path) -> tuple[dict[str, Any], bool]:
    loader = Loader(root)
    return summary(loader), loader.from_cache


def truth(root: Path) -> dict[str, Any]:
    """A load of the checkout as it is, with no cache (the cache file is left as it was)."""
    cache = root / ".dataplatform" / "load-cache.json"
    kept = cache.read_bytes() if cache.exists() else None
    cache.unlink(missing_ok=True)
    try:
        return load(root)[0]
    finally:
        if kept is not None:
            cache.write_bytes(kept)


def warm(root: Path) -> dict[str, Any]:
    """Load until kept (dated back first), then check the next load comes from the cache."""
    age(root)
    cold, _ = load(root)
    again, from_cache = load(root)
    assert from_cache, "a load with nothing changed did not come from the cache"
    assert again == cold
    return again


def test_an_unchanged_checkout_loads_from_the_cache_with_the_same_tasks(repo: Path) -> None:
    first, from_cache = load(repo)
    assert not from_cache
    assert {"cdc:p000", "warehouse:p000", "dbt:p001", "image:img0"} <= set(first)
    assert warm(repo) == first
    # the plain-data actions are the task creators' own callables, rebuilt
    assert first["dbt:p001"][1]["actions"][0].startswith('{"o": "dataplatform.build.actions')


def _edit_pipeline(root: Path) -> None:  # same size, other content: its image renamed
    path = root / "pipelines/p001/pipeline.yaml"
    text = path.read_text()
    assert "  worker:" in text
    path.write_text(text.replace("  worker:", "  wirker:"))


def _add_pipeline(root: Path) -> None:
    source = root / "pipelines/p003"
    target = root / "pipelines/p004"
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    manifest = target / "pipeline.yaml"
    manifest.write_text(manifest.read_text().replace("p003", "p004"))


def _remove_pipeline(root: Path) -> None:
    subprocess.run(["rm", "-r", str(root / "pipelines/p003")], check=True)


def _rename_pipeline(root: Path) -> None:
    (root / "pipelines/p003").rename(root / "pipelines/p009")
    manifest = root / "pipelines/p009/pipeline.yaml"
    manifest.write_text(manifest.read_text().replace("p003", "p009"))


def _add_model(root: Path) -> None:
    (root / "pipelines/p001/dbt/models/marts/extra.sql").write_text("select 1 as one\n")


def _remove_cdc(root: Path) -> None:
    (root / "pipelines/p002/config/cdc.yaml").unlink()


def _add_cdc(root: Path) -> None:  # a file where none was, in a folder that was not there
    (root / "pipelines/p001/config").mkdir()
    (root / "pipelines/p001/config/cdc.yaml").write_text(
        (root / "pipelines/p000/config/cdc.yaml").read_text()
    )


def _edit_service(root: Path) -> None:
    path = root / "platform/services.yaml"
    path.write_text(path.read_text().replace("namespace: dploadcache", "namespace: dploadcachf"))


def _env_file_setting(root: Path) -> None:
    (root / ".env").write_text("DATAPLATFORM_DBT_TARGET=postgres\n")


CHANGES = {
    "a pipeline.yaml edited (same size)": (_edit_pipeline, "image:p001-wirker"),
    "a pipeline added": (_add_pipeline, "dbt:p004"),
    "a pipeline removed": (_remove_pipeline, "dbt:p003"),
    "a pipeline folder renamed": (_rename_pipeline, "dbt:p009"),
    "a dbt model added": (_add_model, "dbt:p001"),
    "a CDC config removed": (_remove_cdc, "cdc:p002"),
    "a CDC config added": (_add_cdc, "cdc:p001"),
    "services.yaml edited": (_edit_service, "(run state)"),
    "a setting in .env": (_env_file_setting, "dbt:p001"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_to_anything_the_load_read_is_seen(repo: Path, change: str) -> None:
    before = warm(repo)
    mutate, task = CHANGES[change]
    mutate(repo)
    after, from_cache = load(repo)
    assert not from_cache, f"{change}: the stale cache was used"
    assert after == truth(repo)
    assert after != before
    if task is not None:
        assert (task in after) != (task in before) or after[task] != before[task]


def test_a_changed_environment_variable_the_load_reads_is_seen(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = warm(repo)
    assert "(duckdb)" in before["dbt:p001"][1]["doc"]
    monkeypatch.setenv("DATAPLATFORM_DBT_TARGET", "postgres")
    after, from_cache = load(repo)
    assert not from_cache
    assert "(postgres)" in after["dbt:p001"][1]["doc"]
    monkeypatch.delenv("DATAPLATFORM_DBT_TARGET")
    assert load(repo) == (before, False)  # unset again: seen too


def test_an_unrelated_environment_variable_keeps_the_cache(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = warm(repo)
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "1")
    monkeypatch.setenv("PWD", "/somewhere/else")
    assert load(repo) == (before, True)


def test_a_load_of_files_changed_just_now_is_not_kept(repo: Path) -> None:
    warm(repo)
    _edit_pipeline(repo)  # stamped now: a second edit in the same tick could keep the stamp
    assert not load(repo)[1]
    assert not load(repo)[1], "a load of a file changed within the racy window was kept"
    age(repo)
    load(repo)
    assert load(repo)[1]


@pytest.mark.parametrize("content", [b"{not json", b"", b'{"header": {"format": 0}}', b"[1, 2]"])
def test_a_corrupt_or_old_cache_file_is_ignored_and_rewritten(repo: Path, content: bytes) -> None:
    before = warm(repo)
    cache = repo / ".dataplatform" / "load-cache.json"
    cache.write_bytes(content)
    assert load(repo) == (before, False)
    kept = json.loads(cache.read_bytes())
    assert kept["header"]["format"] == load_cache.FORMAT
    assert load(repo) == (before, True)
    assert sorted(p.name for p in cache.parent.iterdir() if p.name.startswith(".")) == [], (
        "a temporary file of the atomic write was left behind"
    )


def test_an_edited_task_creator_makes_the_next_load_real(repo: Path) -> None:
    """The toolkit's own modules are inputs too: a cache made by other code is not used."""
    warm(repo)
    cache = repo / ".dataplatform" / "load-cache.json"
    kept = json.loads(cache.read_bytes())
    module = next(entry for entry in kept["code"] if entry[0].endswith("build/cdc_tasks.py"))
    module[1] = [1, 1]  # as if the file had been another one when the cache was made
    cache.write_text(json.dumps(kept))
    assert not load(repo)[1]


WARM_LOAD = """
import json, sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, Path)):
        path = str(Path(args[0]).resolve()) if not str(args[0]).startswith("/") else args[0]
        if path.startswith(str(root)) and not path.endswith("load-cache.json"):
            opened.append(path)
sys.addaudithook(hook)
from dataplatform.build.dodo import Loader
loader = Loader(root)
loader.tasks()
print(json.dumps({"from_cache": loader.from_cache, "opened": opened,
                  "modules": sorted(sys.modules)}))
"""


def test_a_warm_load_opens_no_input_file_and_imports_no_parser(repo: Path) -> None:
    """Measured in a fresh interpreter, as doit runs it: an audit hook on every `open`."""
    warm(repo)
    seen = in_fresh_interpreter(WARM_LOAD, repo)
    assert seen["from_cache"]
    assert seen["opened"] == []
    heavy = {
        "yaml",
        "jinja2",
        "docker",
        "dataplatform.catalog",
        "dataplatform.services.manifest",
        "dataplatform.pipelines.manifest",
    }
    assert sorted(heavy & set(seen["modules"])) == []


def test_a_deferred_action_runs_what_the_task_creator_makes_now(repo: Path) -> None:
    """An action that is not plain data (a function: removing a pipeline's stale CDC output)
    is rebuilt as a Deferred; run by doit from a warm load, it does the real work."""
    env = clean_env()
    generated = repo / "pipelines/p002/generated/cdc"
    done = subprocess.run(
        [sys.executable, "-m", "doit", "cdc:p002"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (generated / "manifest.json").exists()
    _remove_cdc(repo)
    warm(repo)
    deferred = [
        a for t in Loader(repo).tasks()["cdc"] if t.get("name") == "p002" for a in t["actions"]
    ]
    assert [type(a) for a in deferred] == [Deferred]
    cache = repo / ".dataplatform" / "load-cache.json"
    stamp = cache.stat().st_mtime_ns
    done = subprocess.run(
        [sys.executable, "-m", "doit", "cdc:p002"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cdc:p002: CDC section gone, removed" in done.stdout
    assert not (generated / "manifest.json").exists()
    assert cache.stat().st_mtime_ns == stamp  # that run loaded from the cache


AUDITED_DOIT = """
import atexit, json, runpy, sys
out, root = sys.argv[1], sys.argv[2]
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(root):
        opened.append(args[0])
sys.addaudithook(hook)
atexit.register(lambda: open(out, "w").write(json.dumps(opened)))
sys.argv = ["doit", *sys.argv[3:]]
runpy.run_module("doit", run_name="__main__", alter_sys=True)
"""


def audited_doit(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """`doit ARGS` in `root`, and the files of the checkout it opened (doit's own database,
    dodo.py and the load cache excepted)."""
    script, listing = root.parent / "audited_doit.py", root.parent / "opened.json"
    script.write_text(AUDITED_DOIT)
    done = subprocess.run(
        [sys.executable, str(script), str(listing), str(root), *args],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    opened = [
        p
        for p in json.loads(listing.read_text())
        if ".doit.db" not in p
        and "__pycache__" not in p
        and not p.endswith(("dodo.py", "load-cache.json"))
    ]
    return done, sorted(set(opened))


def executed(done: subprocess.CompletedProcess) -> list[str]:
    return sorted(line[3:] for line in done.stdout.splitlines() if line.startswith(".  "))


def test_a_no_op_reads_no_generated_manifest_and_an_edited_output_still_reruns(repo: Path) -> None:
    """`Remembered`: a generated folder found intact is not read again while nothing in it
    changed; a touched output is read once; an edited one re-runs its task."""
    tasks = ("cdc:p002", "warehouse:p002")
    first, _ = audited_doit(repo, *tasks)
    assert executed(first) == sorted(tasks)
    age(repo)
    again, opened = audited_doit(repo, *tasks)  # checks the outputs once, remembers them
    assert executed(again) == []
    assert any(p.endswith("generated/cdc/manifest.json") for p in opened), opened
    again, opened = audited_doit(repo, *tasks)
    assert (executed(again), opened) == ([], [])

    config = next((repo / "pipelines/p002/generated/cdc").rglob("*.yaml"))
    stamp = time.time() - 30
    os.utime(config, (stamp, stamp))  # touched: the same content
    again, opened = audited_doit(repo, *tasks)
    assert executed(again) == []
    assert str(config) in opened  # hashed once…
    again, opened = audited_doit(repo, *tasks)
    assert (executed(again), opened) == ([], [])  # …then remembered

    config.write_text(config.read_text() + "# edited by hand\n")
    os.utime(config, (stamp, stamp))  # even with its old stamp: the size changed
    again, _ = audited_doit(repo, *tasks)
    assert "cdc:p002" in executed(again)


WARM_FINGERPRINTS = """
import json, sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, Path)) and str(args[0]).startswith(str(root)):
        opened.append(str(args[0]))
sys.addaudithook(hook)
from dataplatform.build.dodo import Loader
from dataplatform.build.runstate import RUN
loader = Loader(root)
digests = {t["name"]: RUN.fingerprint(t["uptodate"][0].spec).digest
           for t in loader.tasks()["image"] if t.get("name")}
print(json.dumps({"from_cache": loader.from_cache, "opened": opened, "digests": digests,
                  "hashed": RUN.hashed}))
"""


def warm_fingerprints(root: Path) -> dict[str, Any]:
    """A fresh process as a doit no-op runs it: the tasks loaded, every image fingerprinted
    (its uptodate check); with the files of the checkout it opened."""
    return in_fresh_interpreter(WARM_FINGERPRINTS, root)


def in_fresh_interpreter(script: str, root: Path) -> dict[str, Any]:
    """What `script` (run with `root` as its argument and folder) prints, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=root,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_warm_no_op_fingerprints_images_from_the_load_cache_alone(repo: Path) -> None:
    """The images' stat caches live in the load cache: a no-op opens that one file and no
    other under the state folder (no per-image cache), nor any context file."""
    (repo / "platform/images/img0/.dockerignore").write_text("*.md\n")
    warm(repo)
    first = warm_fingerprints(repo)  # hashes each context once, keeps the digests
    assert first["hashed"] > 0
    seen = warm_fingerprints(repo)
    assert seen["from_cache"]
    assert (seen["digests"], seen["hashed"]) == (first["digests"], 0)
    assert seen["opened"] == [str(repo / ".dataplatform" / "load-cache.json")]

    script = repo / "platform/images/img0/entry.sh"
    stamp = script.stat().st_mtime_ns
    script.write_text(script.read_text().replace("e", "E", 1))  # same size…
    os.utime(script, ns=(stamp, stamp))  # …and mtime: its ctime tells
    changed = warm_fingerprints(repo)
    assert changed["from_cache"]
    assert changed["digests"]["img0"] != first["digests"]["img0"]
    assert changed["hashed"] == 1

    # a real load (an input changed) rewrites the load cache and keeps the stat caches in it
    manifest = repo / "pipelines/p001/pipeline.yaml"
    manifest.write_text(manifest.read_text() + "# a comment\n")
    stamp = time.time() - 60
    os.utime(manifest, (stamp, stamp))
    reloaded = warm_fingerprints(repo)
    assert (reloaded["from_cache"], reloaded["hashed"]) == (False, 0)
    again = warm_fingerprints(repo)
    assert (again["from_cache"], again["hashed"], again["opened"]) == (True, 0, seen["opened"])
