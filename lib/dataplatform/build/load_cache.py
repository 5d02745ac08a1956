"""The stat-keyed cache of doit's task creation: a no-op `doit` neither reads nor parses any
input file when nothing the last load read has changed.

Creating the tasks (the catalog: services.yaml, every pipeline.yaml, the orchestration settings;
then each task creator's look at the pipeline folders) reads hundreds of files at scale. While
it runs, a `Recorder` notes everything it looks at: each file opened for reading, each folder
listed (`glob`, `iterdir`, `os.walk`), each path whose existence or kind was asked (`os.stat`),
and each environment variable read. The result is kept in one JSON file under the project's
state folder with, for every one of those, what `os.stat` said then:

- a file: (mtime_ns, size); a path that was missing: missing; a folder only asked about: a
  folder; a listed folder: its mtime_ns, which changes whenever an entry is added, removed or
  renamed in it;
- an environment variable: the digest of its value (never the value: it may be a secret);
- the toolkit's own modules and dodo.py: (mtime_ns, size), plus Python's and doit's versions.

The next load stats those paths (no file is opened) and, when every answer is the same, rebuilds
the task dicts from the plain data kept (`encode_tasks`/`decode_tasks`); otherwise it loads for
real and records again. A cache file that does not parse or is of another format is ignored and
replaced (atomically). A file modified within `RACY_NS` of the load that read it is not trusted
to have a unique mtime (a file system stamps with a coarse clock): such a load is not kept.

The same file keeps, in a section of its own, the images' content digests by stat signature
(`images.fingerprint.StatCache`): a warm no-op gets them with the tasks and opens no other file.
They do not depend on the tasks kept: a stale load keeps them, and saving them (`save_digests`,
merging into the file as it is on disk then) keeps the tasks another process wrote meanwhile.
Writers in different processes (two doit runs, an invoke command) are not locked against each
other: one may replace what the other just wrote. That costs the next run a real load or a
re-hash, never a wrong answer, since every entry is checked against the files' stats.

The task dicts kept are plain data: names, docs, file_dep, targets, task_dep, meta, and the
`uptodate` checks as their class and attributes (paths, strings, the toolkit's own dataclasses).
An action is kept the same way when it is one of the toolkit's callable objects made of plain
data (`EnsureImage(spec)`, `DbtBuild(folder)`); one that is a function, or holds the whole
catalog, is rebuilt as `Deferred`: a real callable that, when doit runs it, creates the tasks
for real and runs the action the task creator makes for that task now.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from typing import Any

from dataplatform import fsutil

FORMAT = 2
RACY_NS = fsutil.RACY_NS  # a file stamped this close to the load may change unseen

Signature = list[int] | str | None  # [mtime_ns, size], "dir", or None (missing)


_STAT = os.stat  # the real one, while a Recorder stands in for os.stat


def stat_signature(path: str) -> Signature:
    try:
        st = _STAT(path)
    except (OSError, ValueError):
        return None
    if (st.st_mode & 0o170000) == 0o040000:
        return "dir"
    return [st.st_mtime_ns, st.st_size]


def listing_signature(path: str) -> int | None:
    try:
        return _STAT(path).st_mtime_ns
    except (OSError, ValueError):
        return None


def _digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


# --- recording what a load reads ---------------------------------------------------------------

_ACTIVE: Recorder | None = None
_HOOKED = False
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit(event: str, args: tuple[Any, ...]) -> None:
    recorder = _ACTIVE
    if recorder is None or recorder.thread != threading.get_ident():
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return
        if mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS:
            return
        recorder.file(path)
    elif event in ("os.listdir", "os.scandir"):
        recorder.listing(args[0] if args[0] is not None else ".")


class _RecordingEnviron(os._Environ):  # type: ignore[name-defined]
    """os.environ, sharing its data, noting each variable read."""

    def __init__(self, real: Any, recorder: Recorder):
        super().__init__(
            real._data, real.encodekey, real.decodekey, real.encodevalue, real.decodevalue
        )
        self._recorder = recorder

    def __getitem__(self, key: str) -> str:
        try:
            value = super().__getitem__(key)
        except KeyError:
            self._recorder.variable(key, None)
            raise
        self._recorder.variable(key, value)
        return value

    def __iter__(self) -> Iterator[str]:
        if threading.get_ident() == self._recorder.thread:
            self._recorder.whole_environment = True
        return super().__iter__()


class Recorder:
    """Notes, while active in this thread, what a load reads (see the module docstring)."""

    def __init__(self, ignored: tuple[str, ...] = (), root: Path | None = None):
        self.files: dict[str, Signature] = {}
        self.listed: dict[str, int | None] = {}
        self.env: dict[str, str | None] = {}
        self.whole_environment = False
        self.started_ns = 0
        self.thread = threading.get_ident()
        prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/proc", "/dev", "/sys"}
        self.ignored = tuple(p.rstrip("/") + "/" for p in (*prefixes, *ignored))
        self._real_stat: Callable[..., Any] = os.stat
        # below the root, whether a path exists and is a folder is kept as its folder's
        # listing (see _stat); the root's own listing changes with every doit run (.doit.db)
        self.inside = None if root is None else str(root).rstrip("/") + "/"
        self._real_environ: Any = os.environ

    def _path(self, path: Any) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
        text = os.path.abspath(text)
        return None if text.startswith(self.ignored) else text

    def _from_importlib(self) -> bool:
        frame = sys._getframe(3)  # the code that opened/listed (above hook and recorder)
        return frame is not None and frame.f_code.co_filename.startswith("<frozen importlib")

    def file(self, path: Any) -> None:
        found = self._path(path)
        if found is not None and found not in self.files and not self._from_importlib():
            self.files[found] = stat_signature(found)

    def listing(self, path: Any) -> None:
        found = self._path(path)
        if found is not None and found not in self.listed and not self._from_importlib():
            self.listed[found] = listing_signature(found)

    def variable(self, name: str, value: str | None) -> None:
        if threading.get_ident() == self.thread:  # not an action's thread meanwhile
            self.env.setdefault(name, _digest(value))

    def _stat(self, path: Any, *args: Any, **kwargs: Any) -> Any:
        record = (
            not args
            and kwargs.get("dir_fd") is None
            and kwargs.get("follow_symlinks", True)
            and threading.get_ident() == self.thread
        )
        found = self._path(path) if record else None
        if found is None or found in self.files:
            return self._real_stat(path, *args, **kwargs)
        # A missing path or a folder answers only "is it there, is it a folder": its folder's
        # listing (mtime) changes with that answer, so it stands for it; one stat for all the
        # names asked about in one folder. The folder is stat'ed first: a change between the
        # two shows as a changed listing next time.
        parent = os.path.dirname(found)
        by_listing = self.inside is not None and parent.startswith(self.inside)
        if by_listing and parent not in self.listed:
            self.listed[parent] = listing_signature(parent)
        try:
            result = self._real_stat(path, *args, **kwargs)
        except OSError:
            if not by_listing:
                self.files[found] = None
            raise
        if (result.st_mode & 0o170000) != 0o040000:
            self.files[found] = [result.st_mtime_ns, result.st_size]
        elif not by_listing:
            self.files[found] = "dir"
        return result

    def __enter__(self) -> Recorder:
        global _ACTIVE, _HOOKED
        if not _HOOKED:
            sys.addaudithook(_audit)
            _HOOKED = True
        self.started_ns = time.time_ns()
        self._real_stat, self._real_environ = os.stat, os.environ
        os.stat = self._stat  # type: ignore[assignment]
        # the same variables, seen through a recorder (nothing is cleared or copied)
        os.environ = _RecordingEnviron(self._real_environ, self)  # type: ignore[assignment]  # noqa: B003
        _ACTIVE = self
        return self

    def __exit__(self, *exc: Any) -> None:
        global _ACTIVE
        _ACTIVE = None
        os.stat = self._real_stat  # type: ignore[assignment]
        os.environ = self._real_environ  # type: ignore[assignment]  # noqa: B003

    def racy(self) -> bool:
        """Whether a file or folder read was stamped so close to the load that a change after
        the read could carry the same stamp."""
        limit = self.started_ns - RACY_NS
        stamps = [s[0] for s in self.files.values() if isinstance(s, list)]
        stamps += [s for s in self.listed.values() if s is not None]
        return any(stamp >= limit for stamp in stamps)

    def inputs(self) -> dict[str, Any]:
        env = dict(sorted(self.env.items()))
        if self.whole_environment:
            env = {name: _digest(value) for name, value in sorted(os.environ.items())}
        return {
            "files": sorted([p, s] for p, s in self.files.items()),
            "listed": sorted([p, s] for p, s in self.listed.items()),
            "env": env,
            "whole_environment": self.whole_environment,
        }


# --- the cache file ----------------------------------------------------------------------------


def _code_signature(dodo: Path) -> list[list[Any]]:
    """The toolkit's loaded modules and dodo.py, with their stat signatures."""
    paths = {str(dodo)}
    for name, module in list(sys.modules.items()):
        if name == "dataplatform" or name.startswith("dataplatform."):
            file = getattr(module, "__file__", None)
            if file:
                paths.add(file)
    return sorted([p, stat_signature(p)] for p in paths)


def _header() -> dict[str, Any]:
    import doit

    return {"format": FORMAT, "python": sys.version, "doit": ".".join(map(str, doit.__version__))}


def _fresh(inputs: dict[str, Any], code: list[list[Any]]) -> bool:
    for path, signature in code:
        if stat_signature(path) != signature:
            return False
    return unchanged(inputs)


def unchanged(inputs: dict[str, Any]) -> bool:
    """Whether everything `Recorder.inputs()` noted still stats (and reads from the
    environment) the same."""
    for path, signature in inputs["files"]:
        if stat_signature(path) != signature:
            return False
    for path, signature in inputs["listed"]:
        if listing_signature(path) != signature:
            return False
    if inputs["whole_environment"]:
        now = {name: _digest(value) for name, value in sorted(os.environ.items())}
        return now == inputs["env"]
    return all(_digest(os.environ.get(name)) == digest for name, digest in inputs["env"].items())


# each cache file's digests section as this process last read or wrote it (asked for after
# the tasks were read: the file is opened once)
_SEEN: dict[Path, Any] = {}
_SEEN_LOCK = threading.Lock()


def _parse(cache_file: Path) -> dict[str, Any]:
    """The cache file's JSON object; {} when it is missing, unreadable or corrupt."""
    try:
        kept = json.loads(cache_file.read_bytes())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def read(cache_file: Path) -> dict[str, Any] | None:
    """The data kept by the last load when nothing it read has changed, else None. A cache
    file that is unreadable, corrupt or of another format counts as none."""
    kept = _parse(cache_file)
    with _SEEN_LOCK:
        _SEEN[cache_file] = kept.get(DIGESTS)
    try:
        if kept.get("header") != _header():
            return None
        if not _fresh(kept["inputs"], kept["code"]):
            return None
        data = kept["data"]
    except (ValueError, KeyError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def write(cache_file: Path, dodo: Path, recorder: Recorder, data: dict[str, Any]) -> bool:
    """Keep `data` for the next load, unless a file it was made from is too fresh to trust.
    A read-only checkout just loads every time."""
    if recorder.racy():
        return False
    kept = {
        "header": _header(),
        "code": _code_signature(dodo),
        "inputs": recorder.inputs(),
        "data": data,
    }
    with _SEEN_LOCK:
        seen = _parse(cache_file)  # the digests as they are now, whoever saved them
        if isinstance(seen.get(DIGESTS), dict):
            kept[DIGESTS] = seen[DIGESTS]
        try:
            fsutil.write_atomic(cache_file, json.dumps(kept, separators=(",", ":")))
        except OSError:
            return False
        _SEEN[cache_file] = kept.get(DIGESTS)
    return True


# --- the images' content digests kept alongside ----------------------------------------------

DIGESTS = "digests"


def digests(cache_file: Path) -> dict[str, Any]:
    """The digests section of `cache_file` as this process read it (opened only when the tasks
    were not read from it first); {} when there is none."""
    with _SEEN_LOCK:
        if cache_file not in _SEEN:
            _SEEN[cache_file] = _parse(cache_file).get(DIGESTS)
        section = _SEEN[cache_file]
    return section if isinstance(section, dict) else {}


def save_digests(cache_file: Path, update: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite `cache_file` (atomically) with its digests section replaced by `update(section
    as on disk now)`; the rest of the file is kept as it is on disk now. Raises OSError."""
    with _SEEN_LOCK:
        kept = _parse(cache_file)
        section = kept.get(DIGESTS)
        kept[DIGESTS] = update(section if isinstance(section, dict) else {})
        fsutil.write_atomic(cache_file, json.dumps(kept, separators=(",", ":")))
        _SEEN[cache_file] = kept[DIGESTS]


# --- task dicts as plain data ------------------------------------------------------------------


class Unsupported(Exception):
    """A task holds something that is not plain data: that load is not kept."""


_CONFIG_CHANGED = "doit.tools:config_changed"
# an action holding these (the whole catalog, a parsed pipeline.yaml) defers: importing their
# modules is most of what the load cache saves
NOT_KEPT = {
    "dataplatform.catalog:Catalog",
    "dataplatform.pipelines.manifest:Pipeline",
    "dataplatform.orchestration.spec:Settings",
}


def _encode(value: Any, owner: Any = None) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, PurePath):
        return {"p": str(value)}
    if isinstance(value, list):
        return [_encode(v, owner) for v in value]
    if isinstance(value, tuple):
        return {"t": [_encode(v, owner) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"f": [_encode(v, owner) for v in sorted(value, key=repr)]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise Unsupported(f"a dict with non-string keys: {value!r}")
        return {"d": {k: _encode(v, owner) for k, v in value.items()}}
    if owner is not None and getattr(value, "__self__", None) is owner:
        return {"m": value.__name__}  # a bound method of the object being encoded
    return _encode_object(value)


def _encode_object(value: Any) -> dict[str, Any]:
    cls = type(value)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    if ref == _CONFIG_CHANGED:
        if value.encoder is not None:
            raise Unsupported("config_changed with an encoder")
        return {"o": ref, "s": {"config": _encode(value.config)}}
    if (
        not cls.__module__.startswith("dataplatform.")
        or not hasattr(value, "__dict__")
        or "<locals>" in cls.__qualname__
        or ref in NOT_KEPT
    ):
        raise Unsupported(f"{ref} is not one of the toolkit's plain objects")
    return {
        "o": ref,
        "s": {k: _encode(v, value) for k, v in vars(value).items() if k != "__signature__"},
    }  # (given again on load)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [v if isinstance(v, str) else _decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "p" in value:
        return Path(value["p"])
    if "t" in value:
        return tuple(_decode(v) for v in value["t"])
    if "f" in value:
        return frozenset(_decode(v) for v in value["f"])
    if "d" in value:
        return {k: _decode(v) for k, v in value["d"].items()}
    return _decode_object(value)


_CLASSES: dict[str, Any] = {}


def _decode_object(value: dict[str, Any]) -> Any:
    module, _, qualname = value["o"].partition(":")
    if value["o"] == _CONFIG_CHANGED:
        from doit.tools import config_changed

        return config_changed(_decode(value["s"]["config"]))
    cls = _CLASSES.get(value["o"])
    if cls is None:
        if not module.startswith("dataplatform."):
            raise ValueError(f"not a toolkit class: {value['o']}")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        _CLASSES[value["o"]] = cls
    obj = cls.__new__(cls)
    methods = {}
    for key, item in value["s"].items():
        if isinstance(item, dict) and set(item) == {"m"}:
            methods[key] = item["m"]
        else:
            object.__setattr__(obj, key, _decode(item))
    for key, name in methods.items():
        object.__setattr__(obj, key, getattr(obj, name))
    return obj


PLAIN_KEYS = ("basename", "name", "doc", "file_dep", "task_dep", "targets", "verbosity", "meta")


def _native(value: Any) -> bool:
    """Whether JSON gives `value` back as it is (no tuple, Path or non-string key)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_native(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _native(v) for k, v in value.items())
    return False


def _kept_action(entry: Any) -> Any:
    """An action kept as plain data (a toolkit object made of plain data), or None: a function
    or an object holding the whole catalog is made again when it runs (`deferred`)."""
    try:
        return _encode_object(entry)
    except Unsupported:
        return None


def encode_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain data for `tasks`: an action or clean action that is not plain data is kept as
    None (`decode_tasks` defers it)."""
    kept = []
    for task in tasks:
        unknown = set(task) - {*PLAIN_KEYS, "actions", "clean", "uptodate"}
        if unknown:
            raise Unsupported(f"task keys {sorted(unknown)}")
        # JSON's own types are kept as they are (file_dep, meta: most of the data), anything
        # else (a tuple, a Path) encoded
        plain = {"raw": {k: task[k] for k in PLAIN_KEYS if k in task and _native(task[k])}}
        plain["enc"] = {
            k: _encode(task[k]) for k in PLAIN_KEYS if k in task and k not in plain["raw"]
        }
        for key in ("actions", "clean"):
            if key in task:
                if not isinstance(task[key], list):
                    raise Unsupported(f"{key}={task[key]!r}")
                plain[key] = [_kept_action(entry) for entry in task[key]]
        if "uptodate" in task:
            plain["uptodate"] = [_encode(check) for check in task["uptodate"]]
        kept.append(plain)
    return kept


def task_name(task: dict[str, Any]) -> str:
    """The name doit gives a task dict: `basename`, or `basename:name` for a subtask."""
    return task["basename"] if task.get("name") is None else f"{task['basename']}:{task['name']}"


def decode_tasks(
    kept: list[dict[str, Any]], deferred: Callable[[str, str, int], Any]
) -> list[dict[str, Any]]:
    """The task dicts `encode_tasks` kept; `deferred(task, field, index)` makes the callable
    that stands for an action ("actions") or clean action ("clean")."""
    tasks = []
    for plain in kept:
        task = {**plain["raw"], **{key: _decode(v) for key, v in plain["enc"].items()}}
        name = task_name(task)
        for key in ("actions", "clean"):
            if key in plain:
                task[key] = [
                    deferred(name, key, i) if entry is None else _decode(entry)
                    for i, entry in enumerate(plain[key])
                ]
        if "uptodate" in plain:
            task["uptodate"] = [_decode(check) for check in plain["uptodate"]]
        tasks.append(task)
    return tasks
