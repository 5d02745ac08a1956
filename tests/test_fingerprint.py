"""The image fingerprint: what changes it, what does not, and that a no-op reads no file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from dataplatform.errors import ImageError
from dataplatform.images import fingerprint as fp
from dataplatform.images.context import write_context
from dataplatform.images.spec import ImageSpec

PAST = 1_600_000_000


def make(root: Path, files: dict[str, str], dockerignore: str = "") -> ImageSpec:
    context = root / "ctx"
    for relpath, text in files.items():
        path = context / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, (PAST, PAST))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    if dockerignore:
        (context / ".dockerignore").write_text(dockerignore)
    return ImageSpec("app", context, context / "Dockerfile", None, (), "test:1")


def digest(spec: ImageSpec, root: Path, cache: Path | None = None) -> str:
    return fp.compute(spec, root, cache).digest


@pytest.fixture
def spec(tmp_path: Path) -> ImageSpec:
    return make(
        tmp_path,
        {"app.py": "print(1)\n", "lib/util.py": "X = 1\n", "notes.txt": "n"},
        dockerignore="*.txt\n",
    )


def test_included_content_changes_it(spec: ImageSpec, tmp_path: Path) -> None:
    before = digest(spec, tmp_path)
    (spec.context / "lib/util.py").write_text("X = 2\n")
    assert digest(spec, tmp_path) != before


def test_ignored_file_does_not(spec: ImageSpec, tmp_path: Path) -> None:
    before = digest(spec, tmp_path)
    (spec.context / "notes.txt").write_text("changed")
    (spec.context / "more.txt").write_text("new")
    assert digest(spec, tmp_path) == before


def test_touch_does_not(spec: ImageSpec, tmp_path: Path) -> None:
    before = digest(spec, tmp_path)
    for path in spec.context.rglob("*"):
        os.utime(path, (PAST + 100, PAST + 100))
    assert digest(spec, tmp_path) == before


def test_new_file_rename_and_exec_bit_change_it(spec: ImageSpec, tmp_path: Path) -> None:
    seen = {digest(spec, tmp_path)}
    (spec.context / "new.py").write_text("")
    seen.add(digest(spec, tmp_path))
    (spec.context / "new.py").rename(spec.context / "renamed.py")
    seen.add(digest(spec, tmp_path))
    (spec.context / "renamed.py").chmod(0o755)
    seen.add(digest(spec, tmp_path))
    assert len(seen) == 4


def test_dockerfile_target_and_args_change_it(spec: ImageSpec, tmp_path: Path) -> None:
    base = digest(spec, tmp_path)
    assert digest(replace(spec, target="prod"), tmp_path) != base
    assert digest(replace(spec, args=(("V", "1"),)), tmp_path) != base
    assert digest(replace(spec, args=(("V", "2"),)), tmp_path) != digest(
        replace(spec, args=(("V", "1"),)), tmp_path
    )
    (spec.context / "Dockerfile").write_text("FROM scratch\nCOPY . /srv\n")
    assert digest(spec, tmp_path) != base


def test_dockerfile_outside_the_context_counts(tmp_path: Path) -> None:
    spec = make(tmp_path, {"a": "1"})
    outside = tmp_path / "docker" / "app.Dockerfile"
    outside.parent.mkdir()
    outside.write_text("FROM scratch\n")
    moved = replace(spec, dockerfile=outside)
    before = digest(moved, tmp_path)
    outside.write_text("FROM scratch\nCOPY a /a\n")
    assert digest(moved, tmp_path) != before


def test_a_copy_elsewhere_has_the_same_fingerprint(spec: ImageSpec, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(tmp_path / "ctx", clone / "ctx")
    (clone / "ctx" / "empty-dir").mkdir()  # git cannot carry empty dirs; they must not count
    cloned = replace(spec, context=clone / "ctx", dockerfile=clone / "ctx" / "Dockerfile")
    assert digest(cloned, clone) == digest(spec, tmp_path)


def test_warm_no_op_reads_nothing_and_touch_costs_one_read(spec: ImageSpec, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    first = fp.compute(spec, tmp_path, cache)
    assert first.hashed == 4  # app.py, lib/util.py, .dockerignore, Dockerfile
    # Dockerfile and .dockerignore were written just now: too fresh to trust their stat
    # (they could change again within the same timestamp tick), so they are read again once.
    for name in ("Dockerfile", ".dockerignore"):
        os.utime(spec.context / name, (PAST, PAST))
    assert fp.compute(spec, tmp_path, cache).hashed == 2
    assert fp.compute(spec, tmp_path, cache).hashed == 0
    for path in spec.context.rglob("*"):
        os.utime(path, (PAST + 50, PAST + 50))  # an mtime-only change of every file
    touched = fp.compute(spec, tmp_path, cache)
    assert (touched.hashed, touched.digest) == (4, first.digest)
    again = fp.compute(spec, tmp_path, cache)  # stat-only again, not a re-hash forever
    assert (again.hashed, again.digest) == (0, first.digest)


def test_same_size_same_mtime_edit_is_still_seen_when_inode_changes(
    spec: ImageSpec, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.json"
    before = fp.compute(spec, tmp_path, cache).digest
    target = spec.context / "app.py"
    replacement = spec.context / "app.py.new"
    replacement.write_text("print(2)\n")  # same size
    os.utime(replacement, (PAST, PAST))  # same mtime
    os.replace(replacement, target)
    assert fp.compute(spec, tmp_path, cache).digest != before


def test_missing_dockerfile_names_image_and_file(spec: ImageSpec, tmp_path: Path) -> None:
    (spec.context / "Dockerfile").unlink()
    with pytest.raises(ImageError, match=r"image:app: Dockerfile ctx/Dockerfile not found"):
        digest(spec, tmp_path)


def test_context_outside_the_repository_is_refused(tmp_path: Path) -> None:
    spec = make(tmp_path / "outside", {"a": "1"})
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(ImageError, match="lies outside the repository"):
        digest(spec, repo)


def test_malformed_dockerignore_names_file_and_line(spec: ImageSpec, tmp_path: Path) -> None:
    (spec.context / ".dockerignore").write_text("*.txt\n[broken\n")
    with pytest.raises(ImageError, match=r"ctx/\.dockerignore:2: malformed pattern '\[broken'"):
        digest(spec, tmp_path)


def sent_members(spec: ImageSpec, fingerprint: fp.Fingerprint) -> dict[str, bytes]:
    """The files of the build-context tar the builder sends, by name, with their bytes."""
    out = io.BytesIO()
    dockerfile_name = write_context(spec, fingerprint, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert members.pop(dockerfile_name) == spec.dockerfile.read_bytes()  # as written, no LABEL
    return members


def test_the_context_sent_is_exactly_the_fingerprinted_files(
    spec: ImageSpec, tmp_path: Path
) -> None:
    (spec.context / "bin").mkdir()
    (spec.context / "bin/run").write_text("#!/bin/sh\n")
    (spec.context / "bin/run").chmod(0o755)
    fingerprint = fp.compute(spec, tmp_path, None)
    members = sent_members(spec, fingerprint)
    ignore = members.pop(".dockerignore")  # the engine reads it and drops it from the context
    assert set(members) == {f.relpath for f in fingerprint.files} - {".dockerignore"}
    for f in fingerprint.files:
        if f.relpath in members:
            assert hashlib.sha256(members[f.relpath]).hexdigest() == f.digest
    assert ignore.startswith(b"*.txt\n")


def test_a_file_changed_after_fingerprinting_stops_the_send(
    spec: ImageSpec, tmp_path: Path
) -> None:
    fingerprint = fp.compute(spec, tmp_path, None)
    (spec.context / "lib/util.py").write_text("X = 2\n")
    with pytest.raises(ImageError, match=r"util\.py changed while it was sent"):
        sent_members(spec, fingerprint)


FRESH_PROCESS = """
import json, sys
from pathlib import Path
from dataplatform.images import fingerprint as fp
from dataplatform.images.spec import ImageSpec
context, root, cache = (Path(arg) for arg in sys.argv[1:4])
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, Path)) and str(args[0]).startswith(str(root)):
        opened.append(str(args[0]))
sys.addaudithook(hook)
spec = ImageSpec("app", context, context / "Dockerfile", None, (), "test:1")
found = fp.compute(spec, root, cache)
print(json.dumps({"digest": found.digest, "hashed": found.hashed, "opened": sorted(set(opened))}))
"""


def in_a_fresh_process(spec: ImageSpec, root: Path, cache: Path) -> dict:
    """`compute` as a new doit process runs it: the stat caches come from `cache` (a load-cache
    file), kept there at exit; with the files that process opened under `root`."""
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(spec.context), str(root), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def aged(spec: ImageSpec) -> None:
    for path in spec.context.rglob("*"):
        os.utime(path, (PAST, PAST))


def test_a_warm_process_opens_only_the_load_cache(spec: ImageSpec, tmp_path: Path) -> None:
    """One file of stat caches for every image, inside the load cache a doit no-op reads
    anyway: no per-image cache file and no .dockerignore is opened when nothing changed."""
    aged(spec)
    cache = tmp_path / "state" / "load-cache.json"
    first = in_a_fresh_process(spec, tmp_path, cache)
    assert first["hashed"] == 4
    assert str(spec.context / ".dockerignore") in first["opened"]
    warm = in_a_fresh_process(spec, tmp_path, cache)
    assert (warm["digest"], warm["hashed"]) == (first["digest"], 0)
    assert warm["opened"] == [str(cache)]
    assert sorted(p.name for p in cache.parent.iterdir()) == ["load-cache.json"]


def _edit_in_place(spec: ImageSpec) -> None:  # same size, same mtime, same inode
    target = spec.context / "app.py"
    target.write_text("print(2)\n")
    os.utime(target, (PAST, PAST))


def _add(spec: ImageSpec) -> None:
    (spec.context / "lib/extra.py").write_text("")
    os.utime(spec.context / "lib/extra.py", (PAST, PAST))
    os.utime(spec.context / "lib", (PAST, PAST))


def _remove(spec: ImageSpec) -> None:
    (spec.context / "lib/util.py").unlink()
    os.utime(spec.context / "lib", (PAST, PAST))


def _rename(spec: ImageSpec) -> None:
    (spec.context / "lib/util.py").rename(spec.context / "lib/utils.py")
    os.utime(spec.context / "lib", (PAST, PAST))


def _dockerignore_edited(spec: ImageSpec) -> None:  # same size, same mtime, same inode
    path = spec.context / ".dockerignore"
    path.write_text("*.py\n")
    os.utime(path, (PAST, PAST))


def _dockerignore_removed(spec: ImageSpec) -> None:
    (spec.context / ".dockerignore").unlink()


CONTEXT_CHANGES = {
    "edited, size and mtime kept": _edit_in_place,
    "added": _add,
    "removed": _remove,
    "renamed": _rename,
    ".dockerignore edited, size and mtime kept": _dockerignore_edited,
    ".dockerignore removed": _dockerignore_removed,
}


@pytest.mark.parametrize("change", sorted(CONTEXT_CHANGES))
def test_a_warm_cache_still_sees_a_context_change(
    spec: ImageSpec, tmp_path: Path, change: str
) -> None:
    aged(spec)
    cache = tmp_path / "state" / "load-cache.json"
    in_a_fresh_process(spec, tmp_path, cache)
    warm = in_a_fresh_process(spec, tmp_path, cache)
    assert warm["hashed"] == 0
    CONTEXT_CHANGES[change](spec)
    after = in_a_fresh_process(spec, tmp_path, cache)
    assert after["digest"] != warm["digest"]
    assert after["digest"] == fp.compute(spec, tmp_path, None).digest  # no cache: the truth


def test_the_digest_is_the_documented_format(spec: ImageSpec, tmp_path: Path) -> None:
    """Computed independently of `compute`: a change to how the digest is put together would
    rebuild every image of every checkout, so it must be deliberate (a new FORMAT)."""
    spec = replace(spec, target="prod", args=(("V", "1"),))
    (spec.context / "run.sh").write_text("#!/bin/sh\n")
    (spec.context / "run.sh").chmod(0o755)
    (spec.context / "link").symlink_to("app.py")

    def sha(relpath: str) -> str:
        return hashlib.sha256((spec.context / relpath).read_bytes()).hexdigest()

    lines = [
        f"{fp.FORMAT}\ndockerfile\0{sha('Dockerfile')}\ntarget\0prod\n",
        "arg\0V\x001\n",
        f"file\0.dockerignore\0-\0{sha('.dockerignore')}\n",
        f"file\0Dockerfile\0-\0{sha('Dockerfile')}\n",
        f"file\0app.py\0-\0{sha('app.py')}\n",
        f"file\0lib/util.py\0-\0{sha('lib/util.py')}\n",
        "link\0link\0-\0app.py\n",
        f"file\0run.sh\0x\0{sha('run.sh')}\n",
    ]
    expected = hashlib.sha256("".join(lines).encode()).hexdigest()
    assert fp.compute(spec, tmp_path, None).digest == expected
    assert fp.compute(spec, tmp_path, tmp_path / "cache.json").digest == expected


@pytest.mark.parametrize(
    "record", [{"files": [1, 2], "ignore": 5}, {"files": {"x": 3}}, "junk", {"files": {"a": [1]}}]
)
def test_a_malformed_stat_cache_is_ignored_and_replaced(
    spec: ImageSpec, tmp_path: Path, record: object
) -> None:
    aged(spec)
    cache = tmp_path / "state" / "load-cache.json"
    cache.parent.mkdir()
    cache.write_text(json.dumps({"digests": {"format": fp.FORMAT, "images": {"app": record}}}))
    first = in_a_fresh_process(spec, tmp_path, cache)
    assert first["digest"] == fp.compute(spec, tmp_path, None).digest
    assert first["hashed"] == 4
    assert in_a_fresh_process(spec, tmp_path, cache)["hashed"] == 0


def test_a_remembered_value_of_the_wrong_type_is_not_trusted(
    spec: ImageSpec, tmp_path: Path
) -> None:
    """Stats that match but a digest or .dockerignore text that is not a string (a hand-edited
    or damaged cache): hashed and read again, not used."""
    aged(spec)
    cache = tmp_path / "state" / "load-cache.json"
    cache.parent.mkdir()
    in_a_fresh_process(spec, tmp_path, cache)
    data = json.loads(cache.read_text())
    record = data["digests"]["images"]["app"]
    for entry in record["files"].values():
        entry[-1] = 7
    record["ignore"][-1] = 7
    cache.write_text(json.dumps(data))
    again = in_a_fresh_process(spec, tmp_path, cache)
    assert again["digest"] == fp.compute(spec, tmp_path, None).digest
    assert again["hashed"] == 4


def test_the_stat_caches_of_earlier_versions_are_removed_once_digests_are_kept(
    spec: ImageSpec, tmp_path: Path
) -> None:
    legacy = tmp_path / "state" / fp.LEGACY_DIR
    legacy.mkdir(parents=True)
    (legacy / "app.json").write_text("{}")
    in_a_fresh_process(spec, tmp_path, tmp_path / "state" / "load-cache.json")
    assert not legacy.exists()
    assert (tmp_path / "state" / "load-cache.json").exists()
