"""Generated files: one folder per generator, owned entirely by it, with a manifest.

`sync` makes a folder hold exactly a given set of files: unchanged files are not rewritten
(their mtime stays, so what depends on them stays up to date), changed ones are replaced
atomically, and files the previous run wrote but this one did not are deleted. The manifest
lists every file with its digest and the fingerprint of the inputs it came from. `intact` is
the stat-only check that nobody edited or deleted a generated file since.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from dataplatform.errors import UserError
from dataplatform.fsutil import prune_empty_parents, write_atomic

MANIFEST = "manifest.json"


@dataclass
class SyncResult:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.written)} written, {self.unchanged} unchanged, {len(self.removed)} removed"
        )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(directory: Path, manifest_path: Path | None = None) -> dict:
    try:
        return json.loads((manifest_path or directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def sync(
    directory: Path,
    files: dict[str, str],
    inputs: dict[str, str],
    generator: str,
    manifest_path: Path | None = None,
    shared_with_people: bool = False,
    shown_from: Path | None = None,
) -> SyncResult:
    """Make `directory` hold exactly `files` (relative path → text) and a manifest.

    `inputs` maps each input's display path to its content digest. With `shared_with_people`
    the folder also holds hand-written files (a dbt project): a file this generator did not
    write before is never overwritten — that is an error, raised before anything is written."""
    result = SyncResult()
    manifest_path = manifest_path or directory / MANIFEST
    previous = read_manifest(directory, manifest_path).get("files", {})
    if shared_with_people:
        assert_owned(directory, files, manifest_path, shown_from)
    entries: dict[str, dict] = {}
    for relpath in sorted(files):
        data = files[relpath].encode("utf-8")
        target = directory / relpath
        try:
            same = target.read_bytes() == data
        except OSError:
            same = False
        if same:
            result.unchanged += 1
        else:
            write_atomic(target, data)
            result.written.append(relpath)
        st = target.stat()
        entries[relpath] = {"sha256": _digest(data), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    for relpath in sorted(set(previous) - set(files)):
        stale = directory / relpath
        if stale.is_file():
            stale.unlink()
            result.removed.append(relpath)
        prune_empty_parents(stale, directory)
    fingerprint = _digest(json.dumps(inputs, sort_keys=True).encode())
    manifest = {
        "generator": generator,
        "inputs": inputs,
        "inputs_fingerprint": fingerprint,
        "files": entries,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        current = manifest_path.read_text()
    except OSError:
        current = None
    if current != text:
        write_atomic(manifest_path, text.encode())
    return result


def listed_files(directory: Path, manifest_path: Path | None = None) -> list[Path]:
    """The files a generator's manifest says it wrote into `directory`."""
    return [directory / p for p in read_manifest(directory, manifest_path).get("files", {})]


def assert_owned(
    directory: Path, files: dict[str, str], manifest_path: Path, shown_from: Path | None = None
) -> None:
    """Raise if writing `files` would overwrite a file this generator did not write."""
    previous = read_manifest(directory, manifest_path).get("files", {})
    for relpath in sorted(files):
        path = directory / relpath
        if relpath not in previous and path.exists():
            shown = path.relative_to(shown_from) if shown_from else path
            raise UserError(
                f"{shown} exists and was not generated — it would be overwritten: "
                "rename it, or delete it to let the generator own it"
            )


def intact(directory: Path, manifest_path: Path | None = None) -> bool:
    """Every file the manifest lists is there with the content it was written with: its size
    and mtime as written, else (touched, a fresh clone) the same sha256 — content, not clocks."""
    files = read_manifest(directory, manifest_path).get("files")
    if files is None:
        return False
    for relpath, entry in files.items():
        try:
            st = (directory / relpath).stat()
        except OSError:
            return False
        if st.st_size != entry.get("size"):
            return False
        if st.st_mtime_ns != entry.get("mtime_ns"):
            try:
                if _digest((directory / relpath).read_bytes()) != entry.get("sha256"):
                    return False
            except OSError:
                return False
    return True


def remove(directory: Path, manifest_path: Path | None = None) -> list[str]:
    """Delete what a generator wrote: the files its manifest lists, the manifest, and folders
    left empty by that (the folder itself too, unless its manifest is kept elsewhere)."""
    own_folder = manifest_path is None
    manifest_path = manifest_path or directory / MANIFEST
    listed = read_manifest(directory, manifest_path).get("files", {})
    removed = []
    for relpath in listed:
        path = directory / relpath
        if path.is_file():
            path.unlink()
            removed.append(relpath)
        prune_empty_parents(path, directory)
    manifest_path.unlink(missing_ok=True)
    if own_folder and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
    if not own_folder and manifest_path.parent.is_dir() and not any(manifest_path.parent.iterdir()):
        manifest_path.parent.rmdir()
    return removed


def file_digest(path: Path) -> str:
    return _digest(path.read_bytes())
