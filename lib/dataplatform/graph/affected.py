"""Which tasks, pipelines, images, generated files and services a set of changed paths
affects, dependents included.

A task is hit directly when a changed path is one of its input files or lies under one of its
input trees (so added, deleted and renamed files count: both sides of a rename are changed
paths). A task that declared which part of a shared YAML file it reads (its source group in
source-groups.yaml, its service in services.yaml) is hit by that file only when that part
differs between the base and the working tree. Then everything downstream follows: a task
waiting for a hit task (task_dep, or a file_dep that task produces) is hit too, and a service
is hit by its image or its declaration. Paths are relative to the project root.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from dataplatform.graph.load import TaskGraph
from dataplatform.project import PIPELINE_FILE

Reader = Callable[[str], str | None]  # path → text at the base (None: absent there)
_UNREADABLE = object()


@dataclass
class Affected:
    tasks: dict[str, list[str]] = field(default_factory=dict)  # task → why (paths / "via T")
    services: dict[str, list[str]] = field(default_factory=dict)
    removed_pipelines: list[str] = field(default_factory=list)

    def pipelines(self, graph: TaskGraph) -> list[str]:
        found = {graph.nodes[t].pipeline for t in self.tasks if graph.nodes[t].pipeline}
        return sorted({p for p in found if p} | set(self.removed_pipelines))

    def images(self) -> list[str]:
        return sorted(t.split(":", 1)[1] for t in self.tasks if t.startswith("image:"))

    def generated(self, graph: TaskGraph) -> list[str]:
        return sorted({t for name in self.tasks for t in graph.nodes[name].targets})


class InputIndex:
    """path → tasks reading it, and folder → tasks reading everything under it."""

    def __init__(self, graph: TaskGraph):
        self.files: dict[str, set[str]] = {}
        self.trees: dict[str, set[str]] = {}
        for node in graph.nodes.values():
            for path in node.files:
                self.files.setdefault(path, set()).add(node.name)
            for tree in node.trees:
                self.trees.setdefault(tree.rstrip("/"), set()).add(node.name)
        self.service_files: dict[str, set[str]] = {}
        for service, files in graph.service_files.items():
            for path in files:
                self.service_files.setdefault(path, set()).add(service)

    def readers(self, path: str) -> set[str]:
        found = set(self.files.get(path, ()))
        for parent in PurePosixPath(path).parents:
            found |= self.trees.get(parent.as_posix(), set())
        found |= self.trees.get(path, set())  # a deleted folder named as a path
        return found


class Values:
    """The parsed value at a keypath of a YAML file, at the base and in the working tree."""

    def __init__(self, root: Path, before: Reader):
        self.root = root
        self.before = before
        self._data: dict[tuple[str, str], Any] = {}

    def _load(self, side: str, file: str) -> Any:
        key = (side, file)
        if key not in self._data:
            if side == "before":
                text = self.before(file)
            else:
                path = self.root / file
                text = path.read_text(encoding="utf-8") if path.is_file() else None
            try:
                self._data[key] = None if text is None else yaml.safe_load(text)
            except yaml.YAMLError:
                self._data[key] = _UNREADABLE
        return self._data[key]

    def value(self, side: str, file: str, keypath: list[Any]) -> Any:
        data = self._load(side, file)
        for part in keypath:
            if data is _UNREADABLE:
                return _UNREADABLE
            if isinstance(part, dict):
                part = self.value(side, part["file"], part["keypath"])
                if part is _UNREADABLE:
                    return _UNREADABLE
            data = data.get(part) if isinstance(data, dict) else None
        return data

    def changed(self, file: str, keypath: list[Any]) -> bool:
        before, after = self.value("before", file, keypath), self.value("after", file, keypath)
        if before is _UNREADABLE or after is _UNREADABLE:
            return True
        return json.dumps(before, sort_keys=True, default=str) != json.dumps(
            after, sort_keys=True, default=str
        )


def _still_hit(values: tuple[dict[str, Any], ...], path: str, reader: Values | None) -> bool:
    """A reader of part of `path` is hit only when that part changed."""
    parts = [v for v in values if v["file"] == path]
    if not parts or reader is None:
        return True
    return any(reader.changed(path, v["keypath"]) for v in parts)


def affected_by(graph: TaskGraph, paths: set[str], before: Reader | None = None) -> Affected:
    """What `paths` affect; with `before` (the files at the base), tasks that read part of a
    shared YAML file are hit only when their part changed."""
    index = InputIndex(graph)
    reader = Values(graph.project.root, before) if before is not None else None
    result = Affected()
    for path in sorted(paths):
        for task in sorted(index.readers(path)):
            if _still_hit(graph.nodes[task].values, path, reader):
                result.tasks.setdefault(task, []).append(path)
        for service in sorted(index.service_files.get(path, ())):
            if _still_hit(graph.service_values.get(service, ()), path, reader):
                result.services.setdefault(service, []).append(path)
        parts = PurePosixPath(path).parts
        if (
            len(parts) == 3
            and parts[0] == "pipelines"
            and parts[2] == PIPELINE_FILE
            and not any(n.pipeline == parts[1] for n in graph.nodes.values())
            and not (graph.project.root / path).exists()
        ):
            result.removed_pipelines.append(parts[1])
    downstream = graph.downstream()
    stack = sorted(result.tasks)
    while stack:
        name = stack.pop()
        for dependent in sorted(downstream.get(name, ())):
            reasons = result.tasks.setdefault(dependent, [])
            via = f"via {name}"
            if via not in reasons:
                reasons.append(via)
                stack.append(dependent)
    for service, images in graph.services.items():
        for image in images:
            if image in result.tasks:
                result.services.setdefault(service, []).append(f"via {image}")
    result.removed_pipelines.sort()
    return result
