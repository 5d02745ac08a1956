"""Throwaway checkouts: `REPO` (this checkout), `new_checkout` (the real dodo.py, tasks.py and
templates in an empty folder), `TempProject` (a test's checkout with its own services.yaml and
image contexts), `copy_from_checkout` (what a fresh clone holds under a path) and `clean_env`
(the environment a user's shell has, without CI's or this shell's dataplatform settings)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from support.processes import run

REPO = Path(__file__).resolve().parents[2]


def clean_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment without CI and the dataplatform settings a shell may carry;
    `overrides` set (or, with None, remove) variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CI", "DATAPLATFORM_REGISTRY", "DATAPLATFORM_STRICT", "DATAPLATFORM_ROOT"}
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def new_checkout(root: Path) -> Path:
    """The smallest checkout the toolkit runs in, at `root` (made if missing): the real
    dodo.py, tasks.py and templates/, and an empty platform/."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dodo.py", root / "dodo.py")
    shutil.copy(REPO / "tasks.py", root / "tasks.py")
    shutil.copytree(
        REPO / "templates", root / "templates", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "platform").mkdir(exist_ok=True)
    return root


def unique_name(prefix: str = "img") -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@dataclass
class TempProject:
    """A throwaway checkout: the real dodo.py, its own services.yaml and image contexts."""

    root: Path
    namespace: str
    env: dict[str, str] = field(default_factory=dict)

    def write(self, relpath: str, text: str, mode: int | None = None) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mode is not None:
            path.chmod(mode)
        return path

    def services(self, body: str) -> None:
        self.write("platform/services.yaml", f"namespace: {self.namespace}\nservices:\n{body}")

    def doit(self, *args: str, **env: str | None) -> subprocess.CompletedProcess:
        merged = {**self.env, **env}
        return run([sys.executable, "-m", "doit", *args], self.root, clean_env(**merged))

    def invoke(self, *args: str, **env: str | None) -> subprocess.CompletedProcess:
        merged = {**self.env, **env}
        invoke = str(Path(sys.executable).with_name("invoke"))
        return run([invoke, *args], self.root, clean_env(**merged))


def copy_from_checkout(relpath: str, destination_root: Path) -> None:
    """Copy what a fresh clone would hold under `relpath` (tracked files, and new ones git
    does not ignore): never generated or build output lying in this working tree."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", relpath],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if not source.exists():
            continue  # deleted in the working tree, not yet committed
        target = destination_root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
