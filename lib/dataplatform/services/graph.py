"""The dependency graph of services: start order, and cycles named in full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class Cycle(ValueError):
    def __init__(self, path: list[str]):
        self.path = path
        super().__init__(" → ".join(path))


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as a path that returns to its start (`a → b → a`), or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dependency in edges.get(node, ()):
            if state.get(dependency) == 1:
                return [*stack[stack.index(dependency) :], dependency]
            if dependency not in state:
                found = visit(dependency)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def start_order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Dependencies before dependents; ties in name order, so the order is stable."""
    cycle = find_cycle(edges)
    if cycle:
        raise Cycle(cycle)
    ordered: list[str] = []
    placed: set[str] = set()

    def place(node: str) -> None:
        if node in placed:
            return
        for dependency in sorted(edges.get(node, ())):
            place(dependency)
        placed.add(node)
        ordered.append(node)

    for node in sorted(edges):
        place(node)
    return ordered


def closure(edges: Mapping[str, Sequence[str]], wanted: Sequence[str]) -> set[str]:
    """`wanted` and everything they depend on, transitively."""
    found: set[str] = set()
    todo = list(wanted)
    while todo:
        node = todo.pop()
        if node not in found:
            found.add(node)
            todo.extend(edges.get(node, ()))
    return found
