"""Apply a template's changes to a pipeline made from an older version of it: a three-way
merge per file (base: the template as it was when the pipeline was created, found in git
history by its fingerprint; theirs: the template now; ours: the pipeline), keeping local edits
and reporting conflicts as git does.

The template must be committed (the next update finds this version in git history by the
fingerprint recorded now). The recorded fingerprint in `pipeline.yaml` moves only when the
update is complete: with conflicts, `.template-update.yaml` in the pipeline says what is being
merged, `pipelines.outdated` keeps listing the pipeline, and running the update again once the
conflicts are resolved (no marker left) records the new fingerprint and removes that file.
A file deleted here and changed in the template, or edited on both sides when it is binary, is
a conflict left for the user; it is never silently restored or overwritten.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dataplatform.errors import UserError
from dataplatform.pipelines.manifest import MANIFEST, load_pipeline
from dataplatform.project import Project
from dataplatform.scaffold import conflicts, templates
from dataplatform.scaffold.render import render

STATE_FILE = ".template-update.yaml"
# Where the rendered pipeline sits inside a template folder.
RENDERED_ROOT = "{{cookiecutter.pipeline_name}}"
# Not searched for conflict markers: what builds and local data leave in a pipeline.
_NOT_SCANNED = ("build", "data", "generated")


@dataclass(frozen=True)
class Conflict:
    relpath: str
    kind: str  # content, modify/delete, binary
    detail: str = ""

    def __str__(self) -> str:
        if self.kind == "content":
            return f"CONFLICT (content): Merge conflict in {self.relpath}"
        return f"CONFLICT ({self.kind}): {self.relpath} {self.detail}"


@dataclass
class UpdateResult:
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    finished: str | None = None  # the fingerprint recorded now, when the update completed
    state_file: str | None = None  # set while conflicts are left to resolve
    resumed: bool = False  # a previous update's conflicts were resolved and it is finished


def _git(project: Project, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project.root, capture_output=True, **kwargs)


def find_base(project: Project, template: str, fingerprint: str, into: Path) -> Path:
    """Extract the version of the template whose fingerprint is `fingerprint` into `into`."""
    relative = f"{templates.TEMPLATES_DIR}/{template}"
    listed = _git(project, "rev-list", "HEAD", "--", relative, text=True)
    if listed.returncode != 0:
        raise UserError(
            "pipelines.update needs the repository's git history to find the "
            "template version a pipeline was made from"
        )
    for commit in listed.stdout.split():
        target = into / commit
        target.mkdir()
        archive = _git(project, "archive", "--format=tar", commit, relative)
        if archive.returncode != 0:
            continue
        tar_path = into / f"{commit}.tar"
        tar_path.write_bytes(archive.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(target, filter="data")
        if templates.matches(fingerprint, target / relative):
            return target / relative
    raise UserError(
        f"no committed version of template {template!r} has fingerprint "
        f"{fingerprint[:24]}… — the pipeline was made from an uncommitted template"
    )


def _render(template_dir: Path, context_values: dict[str, str], into: Path) -> Path:
    templates.check_context(template_dir, f"{templates.TEMPLATES_DIR}/{template_dir.name}")
    return render(template_dir, template_dir.name, context_values, into, "nothing was changed")


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def _scanned_files(directory: Path) -> list[Path]:
    """The pipeline's own files, where a conflict marker may be left."""
    return [
        p
        for relpath, p in _files(directory).items()
        if relpath.split("/")[0] not in _NOT_SCANNED and p.name != STATE_FILE
    ]


def _record_fingerprint(manifest: Path, old: str, new: str) -> None:
    text = manifest.read_text()
    pattern = re.compile(rf"(?m)^(\s*fingerprint:\s*)(['\"]?){re.escape(old)}\2(\s*(?:#.*)?)$")
    updated, count = pattern.subn(
        lambda m: f"{m.group(1)}{m.group(2)}{new}{m.group(2)}{m.group(3)}", text, count=1
    )
    if count != 1:
        raise UserError(
            f"{manifest.name}: template.fingerprint is not {old[:24]}… as "
            "recorded — restore it, then run pipelines.update again"
        )
    manifest.write_text(updated)


def _read_state(path: Path, shown: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        state = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        state = None
    if not isinstance(state, dict) or not isinstance(state.get("to"), str):
        raise UserError(
            f"{shown} is not the file pipelines.update wrote — delete it and run "
            "pipelines.update again"
        )
    return state


def _write_state(
    path: Path, name: str, template: str, old: str, new: str, found: list[Conflict]
) -> None:
    header = (
        f"# `invoke pipelines.update {name}` is in progress: resolve the conflicts "
        f"below, then run it again\n# to finish (it records the new template "
        f"fingerprint in {MANIFEST} and deletes this file).\n"
    )
    body = {"template": template, "from": old, "to": new, "conflicts": [str(c) for c in found]}
    path.write_text(header + yaml.safe_dump(body, sort_keys=False, width=1000))


def update_pipeline(project: Project, name: str) -> UpdateResult:
    directory = project.pipelines_dir / name
    shown_dir = f"pipelines/{name}"
    if not (directory / MANIFEST).is_file():
        raise UserError(f"there is no pipeline {name!r} (no {shown_dir}/{MANIFEST})")
    pipeline = load_pipeline(project, directory)
    if not pipeline.template or not pipeline.template_fingerprint:
        raise UserError(
            f"{shown_dir}/{MANIFEST} records no template — it was not made by create-pipeline"
        )
    recorded = pipeline.template_fingerprint
    result = UpdateResult()
    state_path = directory / STATE_FILE
    state = _read_state(state_path, f"{shown_dir}/{STATE_FILE}")
    if state is not None:  # a previous update left conflicts: finish it once they are resolved
        conflicts.refuse(
            _scanned_files(directory), project.root, f"run invoke pipelines.update {name} again"
        )
        _record_fingerprint(directory / MANIFEST, recorded, state["to"])
        state_path.unlink()
        recorded = state["to"]
        result.finished, result.resumed = recorded, True
    current_dir = templates.template_dir(project, pipeline.template)
    if templates.matches(recorded, current_dir):
        return result
    template_shown = f"{templates.TEMPLATES_DIR}/{pipeline.template}"
    changed = templates.uncommitted(project, current_dir)
    if changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise UserError(
            f"{template_shown} has uncommitted changes ({changed[0]}{more}) — "
            "commit them first: the pipeline records the template version it is "
            "updated to, and the next update finds that version in git history"
        )
    conflicts.refuse(_scanned_files(directory), project.root, f"run invoke pipelines.update {name}")
    current_fp = templates.fingerprint(current_dir)
    # Both sides render pipeline.yaml with the recorded fingerprint: it moves only once the
    # whole update is done, never through the merge.
    values = {
        "pipeline_name": name,
        "description": pipeline.description,
        "owner": pipeline.owner,
        "_template_name": pipeline.template,
        "_template_fingerprint": recorded,
    }
    with tempfile.TemporaryDirectory(prefix="dataplatform-update-") as scratch:
        work = Path(scratch)
        history = work / "history"
        history.mkdir()
        base_dir = find_base(project, pipeline.template, recorded, history)
        base = _files(_render(base_dir, values, work / "base"))
        theirs = _files(_render(current_dir, values, work / "theirs"))
        _merge(directory, base, theirs, _files(directory), current_dir, work, result)
    if result.conflicts:
        _write_state(state_path, name, pipeline.template, recorded, current_fp, result.conflicts)
        result.state_file = f"{shown_dir}/{STATE_FILE}"
    else:
        _record_fingerprint(directory / MANIFEST, recorded, current_fp)
        result.finished = current_fp
    return result


def _is_binary(*contents: bytes | None) -> bool:
    return any(c is not None and b"\0" in c for c in contents)


def _merge(
    directory: Path,
    base: dict[str, Path],
    theirs: dict[str, Path],
    ours: dict[str, Path],
    current_dir: Path,
    work: Path,
    result: UpdateResult,
) -> None:
    template_source = f"{templates.TEMPLATES_DIR}/{current_dir.name}/{RENDERED_ROOT}"
    for relpath in sorted(set(base) | set(theirs)):
        old = base[relpath].read_bytes() if relpath in base else None
        new = theirs[relpath].read_bytes() if relpath in theirs else None
        mine = ours[relpath].read_bytes() if relpath in ours else None
        target = directory / relpath
        if old == new or mine == new:
            continue
        if new is None:  # the template dropped it
            if mine == old:
                target.unlink()
                result.removed.append(relpath)
            elif mine is not None:
                result.conflicts.append(
                    Conflict(
                        relpath,
                        "modify/delete",
                        "deleted in the template and edited here; kept "
                        "yours — delete it if the template's reason holds for you",
                    )
                )
            continue
        if mine is None and old is not None:  # deleted here, changed in the template
            result.conflicts.append(
                Conflict(
                    relpath,
                    "modify/delete",
                    "deleted here and changed in the template; left "
                    f"deleted — its new version is in {template_source}/ if you want it",
                )
            )
            continue
        if mine is None or mine == old:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(theirs[relpath], target)
            (result.added if mine is None else result.updated).append(relpath)
            continue
        if _is_binary(old, new, mine):
            result.conflicts.append(
                Conflict(
                    relpath,
                    "binary",
                    "edited here and in the template, and binary files are not "
                    f"merged; kept yours — the template's version is in {template_source}/",
                )
            )
            continue
        empty = work / "empty"
        empty.write_bytes(b"")
        merged = subprocess.run(
            [
                "git",
                "merge-file",
                "-p",
                "-L",
                "pipeline",
                "-L",
                "template (old)",
                "-L",
                "template (new)",
                str(ours[relpath]),
                str(base[relpath]) if relpath in base else str(empty),
                str(theirs[relpath]),
            ],
            capture_output=True,
        )
        if not 0 <= merged.returncode <= 127 or (merged.returncode and not merged.stdout):
            reason = " ".join(merged.stderr.decode(errors="replace").split()) or "no output"
            result.conflicts.append(
                Conflict(  # git could not merge it: leave it as it is
                    relpath,
                    "unmerged",
                    f"git merge-file failed ({reason}); kept yours — the "
                    f"template's version is in {template_source}/",
                )
            )
            continue
        target.write_bytes(merged.stdout)
        if merged.returncode != 0:
            result.conflicts.append(Conflict(relpath, "content"))
        else:
            result.updated.append(relpath)
