"""The task graph drawn: Mermaid (pastes into a pull request), Graphviz dot, or JSON.

Inputs are shown compactly: a task's input folders, and its input files that lie in none of
its folders. Edges run from what a task waits for to the task.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from dataplatform.errors import UserError
from dataplatform.graph.load import Node, TaskGraph

FORMATS = ("mermaid", "dot", "json")


def select(graph: TaskGraph, pipeline: str | None) -> list[Node]:
    """All tasks, or one pipeline's tasks and everything they wait for."""
    if pipeline is None:
        return [graph.nodes[n] for n in sorted(graph.nodes)]
    own = {n.name for n in graph.nodes.values() if n.pipeline == pipeline}
    if not own:
        known = sorted({n.pipeline for n in graph.nodes.values() if n.pipeline})
        from dataplatform.config.validate import suggestion

        near = suggestion(pipeline, known)
        raise UserError(
            f"--pipeline {pipeline}: no tasks of that pipeline — "
            + (
                f"did you mean {near!r}?"
                if near
                else f"pipelines with tasks: {', '.join(known) or '(none)'}"
            )
        )
    return [graph.nodes[n] for n in sorted(graph.closure_up(own))]


def shown_inputs(node: Node, root: Path) -> list[str]:
    """Its existing input folders, and its existing input files in none of them (a declared
    file that does not exist yet, like an optional packages.yml, is not drawn)."""
    trees = [f"{t}/" for t in node.trees if (root / t).is_dir()]
    loose = [
        f
        for f in node.files
        if (root / f).exists() and not any(PurePosixPath(f).is_relative_to(t) for t in node.trees)
    ]
    return sorted(trees + loose)


def as_json(graph: TaskGraph, nodes: list[Node]) -> dict[str, Any]:
    names = {n.name for n in nodes}
    return {
        "tasks": {
            n.name: {
                "kind": n.kind,
                "pipeline": n.pipeline,
                "doc": n.doc,
                "inputs": {
                    "files": list(n.files),
                    "trees": list(n.trees),
                    "values": list(n.values),
                },
                "targets": list(n.targets),
                "upstream": [u for u in n.upstream if u in names],
            }
            for n in nodes
        },
        "services": {
            s: {"images": list(images), "files": list(graph.service_files[s])}
            for s, images in sorted(graph.services.items())
            if pipeline_free(nodes, graph) or set(images) & names
        },
    }


def pipeline_free(nodes: list[Node], graph: TaskGraph) -> bool:
    return len(nodes) == len(graph.nodes)


def _ids(values: list[str], prefix: str) -> dict[str, str]:
    return {v: f"{prefix}{i}" for i, v in enumerate(sorted(values))}


def _label(text: str) -> str:
    return re.sub(r'["<>]', "'", text)


def as_mermaid(graph: TaskGraph, nodes: list[Node]) -> str:
    names = {n.name for n in nodes}
    task_ids = _ids(list(names), "t")
    inputs = sorted({i for n in nodes for i in shown_inputs(n, graph.project.root)})
    input_ids = _ids(inputs, "i")
    lines = ["flowchart LR"]
    lines += [f'  {input_ids[i]}[/"{_label(i)}"/]' for i in inputs]
    lines += [f'  {task_ids[n.name]}["{_label(n.name)}"]' for n in nodes]
    for n in nodes:
        lines += [
            f"  {input_ids[i]} --> {task_ids[n.name]}" for i in shown_inputs(n, graph.project.root)
        ]
        lines += [f"  {task_ids[u]} ==> {task_ids[n.name]}" for u in n.upstream if u in names]
    services = {s: imgs for s, imgs in graph.services.items() if set(imgs) & names}
    service_ids = _ids(list(services), "s")
    for service, images in sorted(services.items()):
        lines.append(f'  {service_ids[service]}(["service {_label(service)}"])')
        lines += [f"  {task_ids[i]} ==> {service_ids[service]}" for i in images if i in names]
    return "\n".join(lines) + "\n"


def _dot(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_dot(graph: TaskGraph, nodes: list[Node]) -> str:
    names = {n.name for n in nodes}
    lines = ["digraph tasks {", "  rankdir=LR;", "  node [shape=box];"]
    inputs = sorted({i for n in nodes for i in shown_inputs(n, graph.project.root)})
    lines += [f"  {_dot(i)} [shape=note];" for i in inputs]
    for n in nodes:
        lines.append(f"  {_dot(n.name)};")
        lines += [f"  {_dot(i)} -> {_dot(n.name)};" for i in shown_inputs(n, graph.project.root)]
        lines += [f"  {_dot(u)} -> {_dot(n.name)} [style=bold];" for u in n.upstream if u in names]
    for service, images in sorted(graph.services.items()):
        if set(images) & names:
            lines.append(f"  {_dot('service ' + service)} [shape=ellipse];")
            lines += [f"  {_dot(i)} -> {_dot('service ' + service)};" for i in images]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph: TaskGraph, fmt: str, pipeline: str | None) -> str:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: unknown format — use one of {', '.join(FORMATS)}")
    nodes = select(graph, pipeline)
    if fmt == "json":
        return json.dumps(as_json(graph, nodes), indent=2, sort_keys=True) + "\n"
    return as_mermaid(graph, nodes) if fmt == "mermaid" else as_dot(graph, nodes)
