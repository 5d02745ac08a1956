"""The pipeline templates under `pipelines/_templates/` and their content fingerprints."""

from __future__ import annotations

from pathlib import Path

from dirhash import dirhash

from dataplatform.errors import UserError
from dataplatform.project import Project

TEMPLATES_DIR = Path("pipelines/_templates")
_IGNORE = ["__pycache__/", "*.pyc", ".DS_Store"]


def available(project: Project) -> list[str]:
    root = project.root / TEMPLATES_DIR
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if (d / "cookiecutter.json").is_file())


def template_dir(project: Project, name: str) -> Path:
    directory = project.root / TEMPLATES_DIR / name
    if not (directory / "cookiecutter.json").is_file():
        known = ", ".join(available(project)) or "none"
        raise UserError(f"there is no pipeline template {name!r} in {TEMPLATES_DIR}/ — "
                        f"available: {known}")
    return directory


def fingerprint(directory: Path) -> str:
    """The content fingerprint of a template folder (file names and contents, sha256)."""
    return "sha256:" + dirhash(str(directory), "sha256", ignore=_IGNORE)
