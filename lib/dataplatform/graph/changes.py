"""What changed in the working tree since a git ref: committed, staged, unstaged and untracked
files, with renames seen as a deletion of the old path and an addition of the new one.

The default ref is the merge base of HEAD with the default branch (origin/HEAD, else
origin/main, origin/master, main, master). In a shallow clone a ref or merge base that is not
in the local history is one clear error naming the `git fetch` that makes it available.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dataplatform.errors import UserError

DEFAULT_BRANCHES = ("origin/main", "origin/master", "main", "master")


@dataclass(frozen=True)
class Change:
    path: str  # relative to the git top level, posix
    status: str  # added, deleted, modified, renamed (this is the new path), type-changed
    old_path: str | None = None  # for a rename: the path it had


@dataclass(frozen=True)
class Changes:
    ref: str  # what the user asked for (or the default branch found)
    base: str  # the commit compared with the working tree
    toplevel: Path
    changes: tuple[Change, ...]

    def paths(self) -> set[str]:
        """Every path a change touches: both sides of a rename."""
        found = {c.path for c in self.changes}
        found |= {c.old_path for c in self.changes if c.old_path}
        return found


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError("git is not installed — install git to compare with a ref") from None
    if check and done.returncode != 0:
        raise UserError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done


def _shallow(cwd: Path) -> bool:
    return _git(cwd, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"


def _commit(cwd: Path, ref: str) -> str | None:
    done = _git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return done.stdout.strip() or None


def _default_branch(cwd: Path) -> str | None:
    head = _git(
        cwd, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False
    ).stdout.strip()
    for candidate in (head, *DEFAULT_BRANCHES):
        if candidate and _commit(cwd, candidate):
            return candidate
    return None


def _shallow_hint(what: str) -> str:
    return (
        f"{what} is not in this shallow clone's history — fetch it first: "
        "`git fetch --deepen=50` (or `git fetch --unshallow` for the whole history; in CI "
        "check out with fetch-depth: 0), then run this again"
    )


def resolve_base(cwd: Path, since: str | None) -> tuple[str, str]:
    """(ref shown, base commit) to compare the working tree with."""
    if _git(cwd, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise UserError(f"{cwd}: not a git repository — `affected` compares with git history")
    shallow = _shallow(cwd)
    if since is not None:
        commit = _commit(cwd, since)
        if commit is None:
            if shallow:
                raise UserError(_shallow_hint(f"--since {since}"))
            raise UserError(
                f"--since {since}: no such branch, tag or commit — check the name "
                "(`git branch -a`, `git tag`), or `git fetch` it first"
            )
        return since, commit
    branch = _default_branch(cwd)
    if branch is None:
        if shallow:
            raise UserError(
                "the default branch (origin/main or origin/master) is not in this "
                "shallow clone — fetch it with some history: `git fetch "
                "--deepen=50 origin main:refs/remotes/origin/main` (or `git fetch "
                "--unshallow` for everything; in CI check out with fetch-depth: 0), "
                "or name the ref to compare with: --since REF"
            )
        raise UserError(
            "no default branch found (origin/HEAD, origin/main, origin/master, main, "
            "master) — name the ref to compare with: --since REF"
        )
    merge_base = _git(cwd, "merge-base", "HEAD", branch, check=False).stdout.strip()
    if not merge_base:
        if shallow:
            raise UserError(_shallow_hint(f"the merge base of HEAD and {branch}"))
        raise UserError(
            f"HEAD and {branch} have no common commit — name the ref to compare with: --since REF"
        )
    return branch, merge_base


_STATUS = {
    "A": "added",
    "D": "deleted",
    "M": "modified",
    "T": "type-changed",
    "R": "renamed",
    "C": "added",
    "U": "modified",
}


def reader_at(cwd: Path, commit: str) -> Callable[[str], str | None]:
    """A file's text at `commit` (path relative to `cwd`); None where it did not exist."""

    def read(path: str) -> str | None:
        done = _git(cwd, "show", f"{commit}:./{path}", check=False)
        return done.stdout if done.returncode == 0 else None

    return read


def changes_since(cwd: Path, since: str | None) -> Changes:
    ref, base = resolve_base(cwd, since)
    top = Path(_git(cwd, "rev-parse", "--show-toplevel").stdout.strip())
    diff = _git(top, "diff", "--name-status", "-z", "-M", "--no-ext-diff", base, "--").stdout
    fields = diff.split("\0")
    found: dict[str, Change] = {}
    index = 0
    while index < len(fields) and fields[index]:
        code = fields[index][0]
        if code in "RC":
            old, new = fields[index + 1], fields[index + 2]
            index += 3
            found[new] = Change(new, _STATUS[code], old if code == "R" else None)
        else:
            path = fields[index + 1]
            index += 2
            found[path] = Change(path, _STATUS.get(code, "modified"))
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z").stdout
    for path in filter(None, untracked.split("\0")):
        found.setdefault(path, Change(path, "added"))
    return Changes(ref, base, top, tuple(found[p] for p in sorted(found)))
