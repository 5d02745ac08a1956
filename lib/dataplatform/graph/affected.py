"""Which tasks, pipelines, images, generated files and services a set of changed paths
affects, dependents included.

A task is hit directly when a changed path is one of its input files or lies under one of its
input trees (so added, deleted and renamed files count: both sides of a rename are changed
paths). Then everything downstream follows: a task waiting for a hit task (task_dep, or a
file_dep that task produces) is hit too, and a service is hit by its image or its declaring
files. Paths are relative to the project root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dataplatform.graph.load import TaskGraph


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


def affected_by(graph: TaskGraph, paths: set[str]) -> Affected:
    index = InputIndex(graph)
    result = Affected()
    for path in sorted(paths):
        for task in index.readers(path):
            result.tasks.setdefault(task, []).append(path)
        for service in index.service_files.get(path, ()):
            result.services.setdefault(service, []).append(path)
        parts = PurePosixPath(path).parts
        if (len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "pipeline.yaml"
                and not any(n.pipeline == parts[1] for n in graph.nodes.values())
                and not (graph.project.root / path).exists()):
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
