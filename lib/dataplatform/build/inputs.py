"""What a doit task reads, declared beside its task dict, so commands outside a doit run
(`invoke affected`, `why`, `graph`, `watch`) see exactly the graph doit does.

doit itself knows `file_dep`. What an `uptodate` checker reads (an image's build context, a dbt
project's YAML files) and folders where any file counts, including one added or deleted later
(a dbt `models/` folder, the shared macros, a template folder), are declared with `declare`
in the task's `meta` — a field doit keeps on the Task but never reads. `of` reads them back
from a loaded doit Task, `file_dep` included, so every task answers the same question the
same way.

A task that reads only part of a shared YAML file (one source group of source-groups.yaml,
one service of services.yaml) declares that part as a `value`: (file, keypath). A keypath
element may be a `ref(file, keypath)`, the value found there (a pipeline's `source_group`).
A change to such a file affects the task only when one of its declared values changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

META_KEY = "inputs"
KeyPart = str | dict[str, Any]  # a key, or ref(): the key is the value found elsewhere


def ref(file: Path | str, keypath: Iterable[str]) -> dict[str, Any]:
    """A keypath element naming the value at `keypath` of `file` (read when compared)."""
    return {"file": str(file), "keypath": list(keypath)}


def declare(
    task: dict[str, Any],
    *,
    pipeline: str | None = None,
    files: Iterable[Path | str] = (),
    trees: Iterable[Path | str] = (),
    values: Iterable[tuple[Path | str, Iterable[KeyPart]]] = (),
    kind: str = "",
) -> dict[str, Any]:
    """Add to `task` what it reads besides `file_dep`: `files` (read by an uptodate check or
    the action), `trees` (folders whose every file, present or future, is an input), the
    `pipeline` it belongs to, its `kind` (image, cdc, dbt, ...), and the `values` (file,
    keypath) it reads of a shared file. Returns the task."""
    meta = dict(task.get("meta") or {})
    meta[META_KEY] = {
        "pipeline": pipeline,
        "kind": kind or str(task.get("basename", "")),
        "files": sorted({str(p) for p in files}),
        "trees": sorted({str(p) for p in trees}),
        "values": [{"file": str(file), "keypath": list(keypath)} for file, keypath in values],
    }
    task["meta"] = meta
    return task


@dataclass(frozen=True)
class Inputs:
    """Everything one task reads, as absolute path strings."""

    pipeline: str | None
    kind: str
    files: frozenset[str]
    trees: frozenset[str]
    values: tuple[dict[str, Any], ...] = ()


def of(task: Any) -> Inputs:
    """The inputs of a loaded doit Task: its `file_dep` plus what `declare` added."""
    declared = (getattr(task, "meta", None) or {}).get(META_KEY) or {}
    kind = declared.get("kind") or task.name.split(":", 1)[0]
    return Inputs(
        declared.get("pipeline"),
        kind,
        frozenset(task.file_dep) | frozenset(declared.get("files", ())),
        frozenset(declared.get("trees", ())),
        tuple(declared.get("values", ())),
    )
