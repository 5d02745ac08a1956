"""The pipeline templates under `pipelines/_templates/` and their content fingerprints.

A fingerprint (`v2-sha256:…`) covers each file's path and what it says once comments are set
aside (`comments.significant`): adding or editing only a comment leaves it as it was, so no
pipeline is shown as behind its template for it. Pipelines made before carry the first scheme
(`sha256:…`, a dirhash of the raw files); `matches` compares a recorded fingerprint in its own
scheme, so they are neither shown outdated nor lose their base in git history.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from dirhash import dirhash

from dataplatform.errors import UserError
from dataplatform.project import Project
from dataplatform.scaffold import comments

TEMPLATES_DIR = Path("pipelines/_templates")
CONTEXT_FILE = "cookiecutter.json"
SCHEME = "v2-sha256:"
LEGACY_SCHEME = "sha256:"
_IGNORE = ["__pycache__/", "*.pyc", ".DS_Store"]
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_FILES = {".DS_Store"}


def available(project: Project) -> list[str]:
    root = project.root / TEMPLATES_DIR
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if (d / CONTEXT_FILE).is_file())


def template_dir(project: Project, name: str) -> Path:
    directory = project.root / TEMPLATES_DIR / name
    if not (directory / CONTEXT_FILE).is_file():
        known = ", ".join(available(project)) or "none"
        raise UserError(
            f"there is no pipeline template {name!r} in {TEMPLATES_DIR}/ — available: {known}"
        )
    return directory


def check_context(directory: Path, shown: str) -> None:
    """One line naming the file (and line) when a template's cookiecutter.json is not JSON."""
    path = directory / CONTEXT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{shown}/{CONTEXT_FILE}:{exc.lineno}: not valid JSON ({exc.msg}, "
            f"column {exc.colno}) — fix the file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{shown}/{CONTEXT_FILE}: cannot be read ({exc}) — restore it") from None
    if not isinstance(data, dict):
        raise UserError(
            f"{shown}/{CONTEXT_FILE}:1: must be a JSON object of the template's "
            'variables, like {"pipeline_name": "my_pipeline"}'
        )


def _files(directory: Path) -> list[Path]:
    found = []
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if (
            path.is_file()
            and path.name not in _IGNORED_FILES
            and path.suffix != ".pyc"
            and not _IGNORED_DIRS.intersection(relative.parts)
        ):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())


def fingerprint(directory: Path) -> str:
    """The fingerprint of a template folder: file paths and their contents without comments."""
    digest = hashlib.sha256()
    for path in _files(directory):
        relpath = path.relative_to(directory).as_posix()
        content = hashlib.sha256(comments.significant(relpath, path.read_bytes())).hexdigest()
        digest.update(f"{relpath}\0{content}\n".encode())
    return SCHEME + digest.hexdigest()


def legacy_fingerprint(directory: Path) -> str:
    """The first scheme: a dirhash of names and raw contents (comments included)."""
    return LEGACY_SCHEME + dirhash(str(directory), "sha256", ignore=_IGNORE)


def fingerprint_like(recorded: str, directory: Path) -> str:
    """`directory`'s fingerprint in the scheme of `recorded`."""
    if recorded.startswith(LEGACY_SCHEME):
        return legacy_fingerprint(directory)
    return fingerprint(directory)


def matches(recorded: str | None, directory: Path) -> bool:
    return bool(recorded) and fingerprint_like(recorded, directory) == recorded


def uncommitted(project: Project, directory: Path) -> list[str]:
    """Files of `directory` that differ from git's HEAD (modified, new, deleted); empty when
    they do not, or when the checkout is not a git repository."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", str(directory)],
            cwd=project.root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return []
    if done.returncode != 0:
        return []
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]
