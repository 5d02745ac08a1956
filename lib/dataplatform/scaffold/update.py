"""Apply a template's changes to a pipeline made from an older version of it: a three-way
merge per file (base: the template as it was when the pipeline was created, found in git
history by its fingerprint; theirs: the template now; ours: the pipeline), keeping local edits
and marking conflicts as git does."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cookiecutter.generate import generate_context, generate_files

from dataplatform.errors import UserError
from dataplatform.pipelines.manifest import load_pipeline
from dataplatform.project import Project
from dataplatform.scaffold import templates


@dataclass
class UpdateResult:
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def _git(project: Project, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project.root, capture_output=True, **kwargs)


def find_base(project: Project, template: str, fingerprint: str, into: Path) -> Path:
    """Extract the version of the template whose fingerprint is `fingerprint` into `into`."""
    relative = f"{templates.TEMPLATES_DIR}/{template}"
    listed = _git(project, "rev-list", "HEAD", "--", relative, text=True)
    if listed.returncode != 0:
        raise UserError("pipelines.update needs the repository's git history to find the "
                        "template version a pipeline was made from")
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
        if templates.fingerprint(target / relative) == fingerprint:
            return target / relative
    raise UserError(f"no committed version of template {template!r} has fingerprint "
                    f"{fingerprint[:19]}… — the pipeline was made from an uncommitted template")


def _render(template_dir: Path, context_values: dict[str, str], into: Path) -> Path:
    context = generate_context(context_file=str(template_dir / "cookiecutter.json"),
                               extra_context=context_values)
    return Path(generate_files(repo_dir=str(template_dir), context=context,
                               output_dir=str(into), accept_hooks=False))


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def update_pipeline(project: Project, name: str) -> UpdateResult:
    directory = project.pipelines_dir / name
    if not (directory / "pipeline.yaml").is_file():
        raise UserError(f"there is no pipeline {name!r} (no pipelines/{name}/pipeline.yaml)")
    pipeline = load_pipeline(project, directory)
    if not pipeline.template or not pipeline.template_fingerprint:
        raise UserError(f"pipelines/{name}/pipeline.yaml records no template — it was not made "
                        "by create-pipeline")
    current_dir = templates.template_dir(project, pipeline.template)
    current_fp = templates.fingerprint(current_dir)
    result = UpdateResult()
    if current_fp == pipeline.template_fingerprint:
        return result
    values = {"pipeline_name": name, "description": pipeline.description,
              "owner": pipeline.owner, "_template_name": pipeline.template}
    with tempfile.TemporaryDirectory(prefix="dataplatform-update-") as scratch:
        work = Path(scratch)
        history = work / "history"
        history.mkdir()
        base_dir = find_base(project, pipeline.template, pipeline.template_fingerprint, history)
        base = _files(_render(base_dir, {**values, "_template_fingerprint":
                                         pipeline.template_fingerprint}, work / "base"))
        theirs = _files(_render(current_dir, {**values, "_template_fingerprint": current_fp},
                                work / "theirs"))
        ours = _files(directory)
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
                    result.conflicts.append(f"{relpath} (deleted in the template, edited here)")
                continue
            if mine is None or mine == old:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(theirs[relpath], target)
                (result.added if mine is None else result.updated).append(relpath)
                continue
            empty = work / "empty"
            empty.write_bytes(b"")
            merged = subprocess.run(
                ["git", "merge-file", "-p", "-L", "pipeline", "-L", "template (old)",
                 "-L", "template (new)", str(ours[relpath]),
                 str(base[relpath]) if relpath in base else str(empty), str(theirs[relpath])],
                capture_output=True)
            target.write_bytes(merged.stdout)
            if merged.returncode != 0:
                result.conflicts.append(relpath)
            else:
                result.updated.append(relpath)
    return result
