"""doit `uptodate` checks that compare what files *say*, not their bytes, and read nothing on
a no-op.

A task that reads part of a shared YAML file (its source group of source-groups.yaml) or
whose inputs may be rewritten without a change in meaning (a comment, a regenerated manifest
with the same staging digests) must not re-run for such a change, or everything after it
runs too. `SameMeaning` keeps, in doit's own store, the stat signature (mtime_ns, size) of the
files it reads and the digest of their meaning:

- stat signatures as stored: up to date, no file is opened (the no-op path);
- else the meaning is computed; the same digest: up to date, and the new stat signatures are
  stored at once, so the next no-op reads nothing again (content, not clocks: touching every
  file rebuilds nothing and costs one read);
- a different digest: the task runs and stores both when it succeeds.

`ValuesSame` is a `SameMeaning` over the (file, keypath) values a task declares with
`inputs.declare(values=...)`, a keypath element `inputs.ref(...)` being read from its file.
`Remembered` does the same for a yes/no check that reads files (a generated folder intact).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from doit.dependency import UptodateCalculator

Stat = tuple[int, int] | None
_PARSED: dict[tuple[str, Stat], Any] = {}  # one parse per file and process


def stat_of(path: Path | str) -> Stat:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def yaml_data(path: Path | str) -> Any:
    """The parsed YAML of `path` (None when missing; its bytes' digest when it does not
    parse: the task runs and reports the problem itself)."""
    key = (str(path), stat_of(path))
    if key not in _PARSED:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            raw = Path(path).read_bytes()
        except OSError:
            _PARSED[key] = None
        else:
            try:
                _PARSED[key] = yaml.load(raw, Loader=loader)
            except (yaml.YAMLError, ValueError):
                _PARSED[key] = {"unparsable sha256": hashlib.sha256(raw).hexdigest()}
    return _PARSED[key]


class SameMeaning(UptodateCalculator):
    """Up to date while `meaning()` says what it said at the last successful run; `paths` are
    the files it reads (their stat signatures decide whether to compute it at all)."""

    def __init__(self, key: str, paths: Sequence[Path | str], meaning: Callable[[], Any]):
        super().__init__()
        self.key = key
        self.paths = [str(p) for p in paths]
        self.meaning = meaning
        self.dep_manager: Any = None

    def setup(self, dep_manager: Any, tasks_dict: Any) -> None:
        super().setup(dep_manager, tasks_dict)
        self.dep_manager = dep_manager

    def digest(self) -> str:
        text = json.dumps(self.meaning(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def __call__(self, task: Any, values: dict[str, Any]) -> bool:
        stats = [stat_of(p) for p in self.paths]
        stored = values.get(self.key) or {}
        if stored.get("stat") == [list(s) if s else None for s in stats]:
            # doit replaces a task's values by its savers' when it runs (for another input):
            # keep ours
            task.value_savers.append(lambda: {self.key: stored})
            return True
        current = {"stat": [list(s) if s else None for s in stats], "digest": self.digest()}
        task.value_savers.append(lambda: {self.key: current})
        if stored.get("digest") != current["digest"]:
            return False
        if self.dep_manager is not None:  # same meaning, new clocks: remember them now
            latest = dict(self.dep_manager.get_values(task.name))
            latest[self.key] = current
            self.dep_manager._set(task.name, "_values_:", latest)
        return True


def _resolve(part: Any) -> Any:
    if isinstance(part, dict):  # inputs.ref(file, keypath)
        return _lookup(yaml_data(part["file"]), [_resolve(p) for p in part["keypath"]])
    return part


def _lookup(data: Any, keypath: Iterable[Any]) -> Any:
    for part in keypath:
        data = data.get(part) if isinstance(data, dict) and isinstance(part, str) else None
    return data


def _files_of(keypath: Iterable[Any]) -> list[str]:
    found = []
    for part in keypath:
        if isinstance(part, dict):
            found += [part["file"], *_files_of(part["keypath"])]
    return found


class ValuesSame(SameMeaning):
    """Up to date while each declared (file, keypath) value is what it was."""

    KEY = "values"

    def __init__(self, values: Iterable[tuple[Path | str, Iterable[Any]]]):
        self.values = [(str(file), list(keypath)) for file, keypath in values]
        paths = list(
            dict.fromkeys(p for file, keypath in self.values for p in (file, *_files_of(keypath)))
        )
        super().__init__(self.KEY, paths, self._meaning)

    def _meaning(self) -> list[Any]:
        return [
            _lookup(yaml_data(file), [_resolve(p) for p in keypath])
            for file, keypath in self.values
        ]


class YamlSame(SameMeaning):
    """Up to date while each YAML file parses to what it did (a comment is no change)."""

    KEY = "yaml"

    def __init__(self, paths: Iterable[Path | str], root: Path):
        self.root = root
        super().__init__(self.KEY, list(paths), self._meaning)

    def _meaning(self) -> dict[str, Any]:
        return {os.path.relpath(p, self.root): yaml_data(p) for p in self.paths}


class Remembered(UptodateCalculator):
    """A check that reads files (a generated folder's manifest, `generated.intact`) answered
    without reading anything while every file and folder it looked at when it last said "up to
    date" stats the same (`load_cache.Recorder` notes what it looked at). A touched output is
    read once, then remembered with its new stamp; a change makes the check run again."""

    def __init__(self, key: str, check: Callable[[], bool]):
        super().__init__()
        self.key = key
        self.check = check
        self.dep_manager: Any = None

    def setup(self, dep_manager: Any, tasks_dict: Any) -> None:
        super().setup(dep_manager, tasks_dict)
        self.dep_manager = dep_manager

    def __call__(self, task: Any, values: dict[str, Any]) -> bool:
        from dataplatform.build import load_cache

        stored = values.get(self.key)
        if stored and load_cache.unchanged(stored):
            return True
        # (when the task runs for another reason, its outputs change: nothing is kept then, the
        # next no-op checks once more)
        with load_cache.Recorder() as recorder:
            intact = self.check()
        if not intact or recorder.racy():
            return intact  # a file stamped just now may change unseen: not remembered
        current = recorder.inputs()
        if self.dep_manager is not None:  # up to date: doit saves nothing, remember it now
            latest = dict(self.dep_manager.get_values(task.name))
            latest[self.key] = current
            self.dep_manager._set(task.name, "_values_:", latest)
        return True
