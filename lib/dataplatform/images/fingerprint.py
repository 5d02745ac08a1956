"""The content fingerprint of an image: what Docker would actually use to build it.

Inputs, in a fixed order: a format version, the Dockerfile's content (wherever it lies), the
target, the build args, and every file of the context that `.dockerignore` keeps — its relative
path, whether it is executable, and its content (a symlink: its target). Timestamps, owners and
empty directories are not inputs, so touching files or cloning afresh changes nothing.

A no-op reads no file contents: a per-image stat cache maps (size, mtime, ctime, inode) to the
content digest, and is refreshed whenever a file is re-hashed, so an mtime-only change costs one
re-hash and the next run is stat-only again.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from dataplatform.dockerignore import DockerignoreError, PatternMatcher, read_patterns, walk_context
from dataplatform.errors import ImageError
from dataplatform.fsutil import write_atomic
from dataplatform.images.spec import ImageSpec

FORMAT = "dataplatform-image-fingerprint/v1"
SHORT = 16
_CHUNK = 1 << 20
# A file modified within one timestamp tick of hashing may change again without its stat
# changing: hash it but do not trust its stat next time (git's "racily clean" problem). The tick
# is coarse (jiffies) on nanosecond filesystems and up to 2 s on those that store whole seconds.
_RACY_NS_FINE = 50_000_000
_RACY_NS_COARSE = 2_000_000_000


@dataclass(frozen=True)
class ContextFile:
    relpath: str
    kind: str  # "file" | "link"
    executable: bool
    digest: str


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    files: tuple[ContextFile, ...]
    dockerignore: tuple[str, ...]
    dockerfile_digest: str
    hashed: int  # contents read this time (0 on a warm no-op)
    statted: int

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    @property
    def tag(self) -> str:
        return f"fp-{self.short}"


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class StatCache:
    """Content digests remembered by stat signature, one JSON file per image."""

    def __init__(self, path: Path | None):
        self.path = path
        self._old: dict[str, list] = {}
        self._new: dict[str, list] = {}
        if path is not None:
            try:
                data = json.loads(path.read_text())
                if data.get("format") == FORMAT:
                    self._old = data.get("entries", {})
            except (OSError, ValueError):
                self._old = {}

    def digest(self, path: str, st: os.stat_result) -> str | None:
        entry = self._old.get(path)
        if entry and entry[:-1] == _stat_key(st):
            self._new[path] = entry
            return entry[-1]
        return None

    def remember(self, path: str, st: os.stat_result, digest: str, now_ns: int) -> None:
        coarse = st.st_mtime_ns % 1_000_000_000 == 0
        window = _RACY_NS_COARSE if coarse else _RACY_NS_FINE
        if now_ns - st.st_mtime_ns > window:
            self._new[path] = [*_stat_key(st), digest]

    def save(self) -> None:
        if self.path is None or self._new == self._old:
            return
        write_atomic(
            self.path, json.dumps({"format": FORMAT, "entries": self._new}, separators=(",", ":"))
        )


def hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_dockerignore(spec: ImageSpec, display: str) -> PatternMatcher:
    path = spec.context / ".dockerignore"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PatternMatcher()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageError(
            spec.name, f"cannot read {display}/.dockerignore ({_reason(exc)})"
        ) from None
    try:
        return PatternMatcher.from_lines(read_patterns(text))
    except DockerignoreError as exc:
        raise ImageError(
            spec.name,
            f"{display}/.dockerignore:{exc.line}: malformed pattern "
            f"{exc.pattern!r}: {exc.problem} — fix or remove that line",
        ) from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def check_declaration(spec: ImageSpec, project_root: Path, show) -> None:
    """The context and Dockerfile exist and lie inside the repository."""
    for what, path in (("context", spec.context), ("Dockerfile", spec.dockerfile)):
        resolved = path.resolve()
        if resolved != project_root and project_root not in resolved.parents:
            raise ImageError(
                spec.name,
                f"{what} {path} lies outside the repository "
                f"(declared at {spec.declared_in}) — keep build inputs in the repo",
            )
    if not spec.context.is_dir():
        raise ImageError(
            spec.name,
            f"context directory {show(spec.context)} does not exist "
            f"(declared at {spec.declared_in}) — create it or fix build.context",
        )
    if not spec.dockerfile.is_file():
        raise ImageError(
            spec.name,
            f"Dockerfile {show(spec.dockerfile)} not found (declared at "
            f"{spec.declared_in}) — create it or fix build.dockerfile",
        )


def stat_cache_path(state_dir: Path, spec: ImageSpec) -> Path:
    """Where the stat cache of `spec` lives inside the checkout's state folder."""
    return state_dir / "fingerprints" / f"{spec.name}.json"


def of_project(spec: ImageSpec, project_root: Path, state_dir: Path) -> Fingerprint:
    """`compute` with the checkout's own stat cache."""
    return compute(spec, project_root, stat_cache_path(state_dir, spec))


def compute(spec: ImageSpec, project_root: Path, cache_path: Path | None) -> Fingerprint:
    """Fingerprint `spec`; raises `ImageError` (one line, naming image and file) on bad input."""

    def show(path: Path | str) -> str:
        try:
            return Path(path).resolve().relative_to(project_root).as_posix()
        except ValueError:
            return str(path)

    check_declaration(spec, project_root, show)
    context_display = show(spec.context)
    matcher = load_dockerignore(spec, context_display)
    cache = StatCache(cache_path)
    now_ns = time.time_ns()
    hashed = statted = 0

    read_now: dict[str, str] = {}

    def content_digest(path: str, st: os.stat_result) -> str:
        nonlocal hashed
        known = read_now.get(path) or cache.digest(path, st)
        if known is not None:
            return known
        try:
            digest = hash_file(path)
        except OSError as exc:
            raise ImageError(
                spec.name,
                f"cannot read {show(path)} ({_reason(exc)}) — fix its "
                "permissions or add it to .dockerignore",
            ) from None
        hashed += 1
        read_now[path] = digest
        cache.remember(path, st, digest, now_ns)
        return digest

    files: list[ContextFile] = []
    try:
        entries = list(walk_context(spec.context, matcher))
    except OSError as exc:
        raise ImageError(
            spec.name,
            f"cannot list {show(exc.filename or spec.context)} "
            f"({_reason(exc)}) — fix its permissions or add it to .dockerignore",
        ) from None
    for entry in entries:
        statted += 1
        absolute = entry.path
        if entry.kind == "link":
            files.append(ContextFile(entry.relpath, "link", False, os.readlink(absolute)))
        elif entry.kind == "file":
            executable = bool(entry.stat.st_mode & stat.S_IXUSR)
            files.append(
                ContextFile(entry.relpath, "file", executable, content_digest(absolute, entry.stat))
            )
        else:
            raise ImageError(
                spec.name,
                f"{show(absolute)} is not a regular file (a socket, pipe "
                "or device) — add it to .dockerignore",
            )
    files.sort(key=lambda f: f.relpath)

    dockerfile = str(spec.dockerfile)
    try:
        dockerfile_stat = os.stat(dockerfile)
    except OSError as exc:
        raise ImageError(spec.name, f"cannot read {show(dockerfile)} ({_reason(exc)})") from None
    statted += 1
    dockerfile_digest = content_digest(dockerfile, dockerfile_stat)

    h = hashlib.sha256()
    h.update(f"{FORMAT}\ndockerfile\0{dockerfile_digest}\ntarget\0{spec.target or ''}\n".encode())
    for key, value in spec.args:
        h.update(f"arg\0{key}\0{value}\n".encode("utf-8", "surrogateescape"))
    for f in files:
        mode = "x" if f.executable else "-"
        h.update(f"{f.kind}\0{f.relpath}\0{mode}\0{f.digest}\n".encode("utf-8", "surrogateescape"))
    cache.save()
    return Fingerprint(
        digest=h.hexdigest(),
        files=tuple(files),
        dockerignore=tuple(p.text for p in matcher.patterns),
        dockerfile_digest=dockerfile_digest,
        hashed=hashed,
        statted=statted,
    )
