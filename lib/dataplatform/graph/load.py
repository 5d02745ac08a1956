"""Load the task graph `dodo.py` declares, with doit's own loader, without running anything.

The result is plain data (`TaskGraph`): each task's inputs relative to the project root, its
targets, and the edges doit would follow (`task_dep`, and a `file_dep` that another task
declares as a target). The doit Task objects are kept for `status`, which asks doit's
dependency database about them.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile, InvalidTask
from doit.loader import load_doit_config, load_tasks

from dataplatform.build import inputs
from dataplatform.errors import UserError
from dataplatform.project import Project

DODO = "dodo.py"


@dataclass(frozen=True)
class Node:
    """One doit task as the workflow commands see it (paths relative to the project root)."""

    name: str
    kind: str
    pipeline: str | None
    doc: str
    files: tuple[str, ...]
    trees: tuple[str, ...]
    targets: tuple[str, ...]
    upstream: tuple[str, ...]  # tasks this one waits for (task_dep and file_dep → target)
    values: tuple[dict[str, Any], ...] = ()  # {"file", "keypath"}: the part of a file it reads


@dataclass
class TaskGraph:
    project: Project
    nodes: dict[str, Node]
    tasks: dict[str, Any]  # name → doit Task (groups included)
    config: dict[str, Any]
    services: dict[str, tuple[str, ...]] = field(default_factory=dict)  # service → image tasks
    service_files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # service → files
    service_values: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)

    def downstream(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {name: set() for name in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                found.setdefault(up, set()).add(node.name)
        return found

    def closure_up(self, names: set[str]) -> set[str]:
        """`names` and every task they wait for, transitively."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            stack.extend(self.nodes[name].upstream)
        return seen

    def order(self, names: set[str] | None = None) -> list[str]:
        """Tasks in an order doit could run them (upstream first; ties by name)."""
        wanted = set(self.nodes) if names is None else names
        done: list[str] = []
        placed: set[str] = set()

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in placed or name in path:
                return
            for up in sorted(self.nodes[name].upstream):
                if up in wanted:
                    visit(up, (*path, name))
            placed.add(name)
            done.append(name)

        for name in sorted(wanted):
            visit(name, ())
        return done


def _relative(project: Project, path: str) -> str:
    prefix = f"{project.root}/"
    if path.startswith(prefix) and "//" not in path and "/." not in path and not path.endswith("/"):
        return path[len(prefix) :]  # the common case, without a Path (thousands per load)
    candidate = Path(path)
    if not candidate.is_absolute():
        return candidate.as_posix()
    try:
        return candidate.relative_to(project.root).as_posix()
    except ValueError:
        return candidate.as_posix()


def _relative_value(project: Project, value: dict[str, Any]) -> dict[str, Any]:
    keypath = [_relative_value(project, k) if isinstance(k, dict) else k for k in value["keypath"]]
    return {"file": _relative(project, value["file"]), "keypath": keypath}


def _module(project: Project) -> Any:
    dodo = project.root / DODO
    if not dodo.is_file():
        raise UserError(
            f"{project.relative(dodo)}: not found — run this inside the repository "
            "(the folder with dodo.py and tasks.py)"
        )
    name = f"_dataplatform_dodo_{abs(hash(str(dodo)))}"
    spec = importlib.util.spec_from_file_location(name, dodo)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_graph(project: Project) -> TaskGraph:
    """Every task `doit list --all` would show, with inputs and edges. A broken config is a
    UserError (what `doit` would stop with)."""
    module = _module(project)
    loader = getattr(module, "LOADER", None)
    if loader is not None:
        loader.raise_user_errors = True  # this process renders them (cli.common)
    namespace = dict(vars(module))
    try:
        config = load_doit_config(namespace)
        loaded = load_tasks(namespace, config=config)
    except (InvalidDodoFile, InvalidTask) as exc:
        raise UserError(str(exc)) from None
    tasks = {task.name: task for task in loaded}
    producers: dict[str, str] = {}
    for task in loaded:
        for target in task.targets:
            producers[str(target)] = task.name
    nodes: dict[str, Node] = {}
    for task in loaded:
        if task.has_subtask and not task.actions:
            continue  # a group (`cdc`, `dbt`): its subtasks are the nodes
        declared = inputs.of(task)
        upstream = {dep for dep in task.task_dep if dep in tasks}
        upstream |= {producers[str(dep)] for dep in task.file_dep if str(dep) in producers}
        upstream.discard(task.name)
        expanded: set[str] = set()
        for dep in upstream:  # a group stands for its subtasks
            group = tasks[dep]
            expanded |= set(group.task_dep) if group.has_subtask and not group.actions else {dep}
        doc = (task.doc or "").strip().splitlines()[0] if task.doc else ""
        nodes[task.name] = Node(
            name=task.name,
            kind=declared.kind,
            pipeline=declared.pipeline,
            doc=doc,
            files=tuple(sorted({_relative(project, f) for f in declared.files})),
            trees=tuple(sorted({_relative(project, t) for t in declared.trees})),
            targets=tuple(sorted({_relative(project, str(t)) for t in task.targets})),
            upstream=tuple(sorted(expanded)),
            values=tuple(_relative_value(project, v) for v in declared.values),
        )
    graph = TaskGraph(project, nodes, tasks, config)
    _add_services(graph, module)
    return graph


def _add_services(graph: TaskGraph, module: Any) -> None:
    """Services are not doit tasks; each is affected by the image it runs (built here) and by
    the files that declare it (services.yaml, its service template)."""
    loader = getattr(module, "LOADER", None)
    if loader is None:
        return
    services_file = _relative(graph.project, str(graph.project.services_file))
    # what the Loader knows of each service (kept in doit's load cache with the tasks)
    for name, service in sorted(loader.services().items()):
        images = (f"image:{service['image']}",) if service["image"] else ()
        files = [services_file, *([service["template"]] if service["template"] else [])]
        graph.services[name] = tuple(i for i in images if i in graph.nodes)
        graph.service_files[name] = tuple(files)
        graph.service_values[name] = ({"file": services_file, "keypath": ["services", name]},)
