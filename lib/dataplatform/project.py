"""Where the repository is and where the toolkit keeps things inside it.

The project root is the directory holding `dodo.py` and `platform/`; it is found from
`DATAPLATFORM_ROOT`, or by walking up from the current directory. Every other module asks a
`Project` for paths instead of building them by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dataplatform.errors import UserError

ROOT_ENV = "DATAPLATFORM_ROOT"
# The file names the toolkit reads at fixed places: the workstation's settings and secrets at
# the root, and each pipeline's manifest at the top of its folder.
ENV_FILE = ".env"
PIPELINE_FILE = "pipeline.yaml"


@dataclass(frozen=True)
class Project:
    """A checkout of the monorepo, rooted at `root` (absolute, symlinks resolved)."""

    root: Path

    @property
    def platform_dir(self) -> Path:
        return self.root / "platform"

    @property
    def services_file(self) -> Path:
        return self.platform_dir / "services.yaml"

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    @property
    def state_dir(self) -> Path:
        """Machine-local, git-ignored state of the toolkit (caches, settings)."""
        return self.root / ".dataplatform"

    @property
    def last_run_file(self) -> Path:
        """Why each doit task ran last time and how it ended (build.lastrun, `invoke why`)."""
        return self.state_dir / "last-run.json"

    @property
    def load_cache_file(self) -> Path:
        """doit's tasks as last created, with the stat of everything read (build.load_cache)."""
        return self.state_dir / "load-cache.json"

    @property
    def env_file(self) -> Path:
        return self.root / ENV_FILE

    @property
    def orchestration_dir(self) -> Path:
        return self.platform_dir / "orchestration"

    @property
    def orchestration_settings_file(self) -> Path:
        """Repo-wide orchestration settings: default engine, tool locks, team policies."""
        return self.orchestration_dir / "orchestration.yaml"

    @property
    def dags_dir(self) -> Path:
        """The platform's Airflow dags folder, assembled from every pipeline (generated)."""
        return self.orchestration_dir / "dags"

    @property
    def dagster_workspace_dir(self) -> Path:
        """The platform's Dagster workspace, assembled from every pipeline (generated)."""
        return self.orchestration_dir / "dagster"

    @property
    def envs_dir(self) -> Path:
        """Managed tool environments (Airflow, Dagster), one per lock content."""
        return self.state_dir / "envs"

    def relative(self, path: Path) -> str:
        """`path` relative to the root when it lies inside, else as given; for messages."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def _looks_like_root(directory: Path) -> bool:
    return (directory / "dodo.py").is_file() and (directory / "platform").is_dir()


def find_project(start: Path | None = None) -> Project:
    """The project containing `start` (default: the current directory)."""
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        root = Path(explicit).resolve()
        if not _looks_like_root(root):
            raise UserError(
                f"{ROOT_ENV}={explicit} is not a dataplatform checkout (no dodo.py and platform/ "
                "there) — point it at the repository root or unset it"
            )
        return Project(root)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _looks_like_root(candidate):
            return Project(candidate)
    raise UserError(
        f"{here} is not inside a dataplatform checkout (no dodo.py with platform/ beside it above "
        f"it) — cd into the repository or set {ROOT_ENV}"
    )
