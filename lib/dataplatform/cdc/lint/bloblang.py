"""Bloblang in Redpanda Connect configs: parse it with a real parser (tree-sitter-bloblang) and
check every function and method it calls against the specification's names.

Two places hold Bloblang: a field the specification marks `bloblang` (a whole mapping or query:
the `mapping` processor, `check`, `args_mapping`, `result_map`, ...) and `${! ... }`
interpolations in a field it marks `interpolated` (each one a query). `${{! ... }}` is an
escaped, literal `${! ... }`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter
import tree_sitter_bloblang

from dataplatform.config.validate import suggestion


@dataclass(frozen=True)
class Problem:
    """A problem at (row, column) of the Bloblang text (both 0-based)."""

    row: int
    column: int
    message: str


_CALLS = """
(call_expression function: (identifier) @function)
(call_expression function: (member_expression property: (identifier) @method))
"""


@functools.cache
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_bloblang.language())


@functools.cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(_language())


@functools.cache
def _calls() -> tree_sitter.Query:
    return tree_sitter.Query(_language(), _CALLS)


def _nodes(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node below `node`, depth first (iterative: mappings can nest deeply)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: tree_sitter.Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


@functools.lru_cache(maxsize=8192)
def check(
    text: str, functions: frozenset[str], methods: frozenset[str], query: bool = False
) -> tuple[Problem, ...]:
    """Syntax errors, then calls of functions or methods the specification does not name.
    `query`: the text must be one expression (an interpolation), not a mapping. (Cached: a
    generated pipeline repeats the same mappings across environments and tenants.)"""
    tree = _parser().parse(text.encode("utf-8"))
    problems: list[Problem] = []
    if tree.root_node.has_error:
        for node in _nodes(tree.root_node):
            row, column = node.start_point
            if node.is_missing:
                problems.append(
                    Problem(row, column, f"Bloblang syntax error: missing '{node.type}'")
                )
            elif node.type == "ERROR":
                near = _text(node).strip().splitlines()[0][:40] if _text(node).strip() else ""
                problems.append(
                    Problem(
                        row, column, "Bloblang syntax error" + (f" at '{near}'" if near else "")
                    )
                )
        return tuple(problems)
    statements = [c for c in tree.root_node.named_children if c.type != "comment"]
    if query and (len(statements) != 1 or statements[0].type != "expression_statement"):
        return (
            Problem(
                0, 0, "an interpolation holds one Bloblang query (an expression), not a mapping"
            ),
        )
    captures = tree_sitter.QueryCursor(_calls()).captures(tree.root_node)
    found = [(node, "function", functions) for node in captures.get("function", [])]
    found += [(node, "method", methods) for node in captures.get("method", [])]
    for node, what, known in sorted(found, key=lambda item: item[0].start_byte):
        name = _text(node)
        if name not in known:
            near = suggestion(name, known)
            row, column = node.start_point
            problems.append(
                Problem(
                    row,
                    column,
                    f"unknown Bloblang {what} '{name}'"
                    + (f" — did you mean '{near}'?" if near else ""),
                )
            )
    return tuple(problems)


@dataclass(frozen=True)
class Interpolation:
    """One `${! query }` of a string: the query and where it starts (offset in the string)."""

    query: str
    offset: int


def interpolations(value: str) -> tuple[list[Interpolation], str]:
    """The `${! ... }` queries of an interpolated string, and an error ('' when none): an
    interpolation that never closes."""
    found: list[Interpolation] = []
    i = 0
    while True:
        start = value.find("${", i)
        if start < 0:
            return found, ""
        if value.startswith("${{", start):  # escaped: `${{! x }}` is the literal `${! x }`
            i = start + 3
            continue
        if not value.startswith("${!", start):
            i = start + 2
            continue
        end = _closing_brace(value, start + 3)
        if end < 0:
            return found, f"interpolation at offset {start} never closes (no matching '}}')"
        found.append(Interpolation(value[start + 3 : end], start + 3))
        i = end + 1


def _closing_brace(text: str, i: int) -> int:
    """The index of the `}` that closes an interpolation whose query starts at `i`: brackets
    and string literals (`"..."`, `\"\"\"...\"\"\"`) inside the query are skipped."""
    depth = 0
    while i < len(text):
        if text.startswith('"""', i):
            close = text.find('"""', i + 3)
            if close < 0:
                return -1
            i = close + 3
            continue
        char = text[i]
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char in "{[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1
