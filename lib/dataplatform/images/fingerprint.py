"""The content fingerprint of an image: what Docker would actually use to build it.

Inputs, in a fixed order: a format version, the Dockerfile's content (wherever it lies), the
target, the build args, and every file of the context that `.dockerignore` keeps — its relative
path, whether it is executable, and its content (a symlink: its target). Timestamps, owners and
empty directories are not inputs, so touching files or cloning afresh changes nothing.

A no-op reads no file: a per-image stat cache maps (size, mtime, ctime, inode) to the content
digest (and, for `.dockerignore`, to its text), and is refreshed whenever a file is re-hashed,
so an mtime-only change costs one re-hash and the next run is stat-only again. The context is
still walked and every file stat'ed, so a file added, removed or renamed is seen. Every image's
stat cache is kept in one section of the checkout's load-cache file (`build.load_cache`), which
a doit no-op reads anyway: read at most once per process, saved once (at exit, or `save()`)
when an image's changed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import stat
import threading
import time
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from dataplatform import fsutil
from dataplatform.dockerignore import DockerignoreError, PatternMatcher, read_patterns, walk_context
from dataplatform.errors import ImageError
from dataplatform.images.spec import ImageSpec
from dataplatform.project import Project

LEGACY_DIR = "fingerprints"  # .dataplatform/fingerprints/<image>.json, before the load cache
FORMAT = "dataplatform-image-fingerprint/v1"
SHORT = 16
_CHUNK = 1 << 20
# fsutil.RACY_NS, narrowed on a file system that stores nanoseconds (its tick is a jiffy): a
# file hashed that soon after its change is hashed but its stat is not trusted next time
_RACY_NS_FINE = 50_000_000


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
    return list(fsutil.content_signature(st))  # a list: the form JSON gives back


class StatCache:
    """One image's content digests (and `.dockerignore` text) remembered by stat signature:
    `record` is the plain data kept (see `_Store`)."""

    def __init__(self, record: dict | None = None):
        old = record if isinstance(record, dict) else {}  # anything else: nothing remembered
        files, ignore = old.get("files"), old.get("ignore")
        self._old: dict[str, list] = files if isinstance(files, dict) else {}
        self._old_ignore: list | None = ignore if isinstance(ignore, list) else None
        self._new: dict[str, list] = {}
        self._new_ignore: list | None = None

    def digest(self, path: str, st: os.stat_result) -> str | None:
        entry = self._old.get(path)
        if (  # _stat_key(st), compared in place: once per context file on every no-op
            isinstance(entry, list)
            and len(entry) == 5
            and entry[0] == st.st_size
            and entry[1] == st.st_mtime_ns
            and entry[2] == st.st_ctime_ns
            and entry[3] == st.st_ino
            and isinstance(entry[4], str)
        ):
            self._new[path] = entry
            return entry[4]
        return None

    def remember(self, path: str, st: os.stat_result, digest: str, now_ns: int) -> None:
        if _trusted(st, now_ns):
            self._new[path] = [*_stat_key(st), digest]

    def ignore_text(self, path: str, st: os.stat_result) -> str | None:
        """The text of the `.dockerignore` at `path` when its stat is the one remembered."""
        entry = self._old_ignore
        if entry and entry[:-1] == [path, *_stat_key(st)] and isinstance(entry[-1], str):
            self._new_ignore = entry
            return entry[-1]
        return None

    def remember_ignore(self, path: str, st: os.stat_result, text: str, now_ns: int) -> None:
        if _trusted(st, now_ns):
            self._new_ignore = [path, *_stat_key(st), text]

    @property
    def record(self) -> dict:
        kept: dict = {"files": self._new}
        if self._new_ignore is not None:
            kept["ignore"] = self._new_ignore
        return kept

    @property
    def changed(self) -> bool:
        return self._new != self._old or self._new_ignore != self._old_ignore


def _trusted(st: os.stat_result, now_ns: int) -> bool:
    """Whether `st` was stamped long enough before `now_ns` that a later change shows in it
    (the racy rule above)."""
    coarse = st.st_mtime_ns % 1_000_000_000 == 0
    window = fsutil.RACY_NS if coarse else _RACY_NS_FINE
    return now_ns - st.st_mtime_ns > window


class _Store:
    """Every image's `StatCache` of one checkout, as the digests section of a load-cache file:
    `{"format": FORMAT, "images": {name: StatCache.record}}`. Read at most once per process;
    the records of images whose cache changed are merged into the file once, by `save`."""

    def __init__(self, path: Path):
        self.path = path
        self._images: dict[str, dict] | None = None
        self._changed: dict[str, dict] = {}
        self._lock = threading.Lock()

    def cache(self, name: str) -> StatCache:
        from dataplatform.build import load_cache

        with self._lock:
            if self._images is None:
                self._images = _images_of(load_cache.digests(self.path))
            return StatCache(self._images.get(name))

    def keep(self, name: str, cache: StatCache) -> None:
        if not cache.changed:
            return
        with self._lock:
            assert self._images is not None
            self._images[name] = self._changed[name] = cache.record

    def save(self) -> None:
        from dataplatform.build import load_cache

        with self._lock:
            changed, self._changed = self._changed, {}
        if not changed:
            return

        def merged(section: dict) -> dict:
            return {"format": FORMAT, "images": {**_images_of(section), **changed}}

        with contextlib.suppress(OSError):  # a read-only checkout just hashes again
            load_cache.save_digests(self.path, merged)
        # the one-file-per-image caches of earlier versions: nothing reads them any more
        shutil.rmtree(self.path.parent / LEGACY_DIR, ignore_errors=True)


def _images_of(section: dict) -> dict[str, dict]:
    """The per-image records of a digests section; {} for one of another format."""
    images = section.get("images") if section.get("format") == FORMAT else None
    return dict(images) if isinstance(images, dict) else {}


_STORES: dict[Path, _Store] = {}
_STORES_LOCK = threading.Lock()


def _store(path: Path) -> _Store:
    with _STORES_LOCK:
        if not _STORES:
            atexit.register(save)
        if path not in _STORES:
            _STORES[path] = _Store(path)
        return _STORES[path]


def save() -> None:
    """Keep the stat caches this process changed (done at exit; a caller may do it sooner)."""
    with _STORES_LOCK:
        stores = list(_STORES.values())
    for store in stores:
        store.save()


def hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_dockerignore(
    spec: ImageSpec,
    display: str,
    cache: StatCache | None = None,
    now_ns: int = 0,
    read_now: dict[str, str] | None = None,
) -> PatternMatcher:
    """The patterns of the context's `.dockerignore`; with `cache`, read only when its stat is
    not the one remembered. A read notes the file's content digest in `read_now` (it is a
    file of the context too: read once)."""
    path = str(spec.context / ".dockerignore")
    try:
        st = os.stat(path)
        text = cache.ignore_text(path, st) if cache is not None else None
        if text is None:
            with open(path, "rb") as handle:
                raw = handle.read()
            text = raw.decode("utf-8")
            digest = hashlib.sha256(raw).hexdigest()
            if read_now is not None:
                read_now[path] = digest
            if cache is not None:
                cache.remember_ignore(path, st, text, now_ns)
                cache.remember(path, st, digest, now_ns)
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


def of_project(spec: ImageSpec, project: Project) -> Fingerprint:
    """`compute` with the checkout's own stat caches (in its load-cache file)."""
    return compute(spec, project.root, project.load_cache_file)


def compute(spec: ImageSpec, project_root: Path, cache_path: Path | None) -> Fingerprint:
    """Fingerprint `spec`; raises `ImageError` (one line, naming image and file) on bad input.
    `cache_path`: the load-cache file whose digests section keeps the stat caches (None:
    hash every file)."""

    def show(path: Path | str) -> str:
        try:
            return Path(path).resolve().relative_to(project_root).as_posix()
        except ValueError:
            return str(path)

    check_declaration(spec, project_root, show)
    context_display = show(spec.context)
    store = _store(cache_path) if cache_path is not None else None
    cache = store.cache(spec.name) if store is not None else StatCache()
    now_ns = time.time_ns()
    read_now: dict[str, str] = {}
    matcher = load_dockerignore(spec, context_display, cache, now_ns, read_now)
    hashed = 1 if read_now else 0
    statted = 0

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
    statted += len(entries)
    for entry in entries:
        absolute = entry.path
        if entry.kind == "file":
            st = entry.stat
            executable = bool(st.st_mode & stat.S_IXUSR)
            files.append(
                ContextFile(entry.relpath, "file", executable, content_digest(absolute, st))
            )
        elif entry.kind == "link":
            files.append(ContextFile(entry.relpath, "link", False, os.readlink(absolute)))
        else:
            raise ImageError(
                spec.name,
                f"{show(absolute)} is not a regular file (a socket, pipe "
                "or device) — add it to .dockerignore",
            )
    files.sort(key=attrgetter("relpath"))

    dockerfile = str(spec.dockerfile)
    try:
        dockerfile_stat = os.stat(dockerfile)
    except OSError as exc:
        raise ImageError(spec.name, f"cannot read {show(dockerfile)} ({_reason(exc)})") from None
    statted += 1
    dockerfile_digest = content_digest(dockerfile, dockerfile_stat)

    lines = [f"{FORMAT}\ndockerfile\0{dockerfile_digest}\ntarget\0{spec.target or ''}\n"]
    lines += [f"arg\0{key}\0{value}\n" for key, value in spec.args]
    lines += [f"{f.kind}\0{f.relpath}\0{'x' if f.executable else '-'}\0{f.digest}\n" for f in files]
    h = hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape"))
    if store is not None:
        store.keep(spec.name, cache)
    return Fingerprint(
        digest=h.hexdigest(),
        files=tuple(files),
        dockerignore=tuple(p.text for p in matcher.patterns),
        dockerfile_digest=dockerfile_digest,
        hashed=hashed,
        statted=statted,
    )
