"""Check one Redpanda Connect config against the vendored component specification.

Reported, each with the YAML path and line: an unknown component or field (with a
did-you-mean), a value of the wrong kind (scalar, array, map, object) or type, a value outside
the field's options, a required field missing (a single value with no default that is not
optional, Redpanda Connect's own rule), a deprecated component or field, a bad or
duplicate label, Bloblang that does not parse or calls a function or method the specification
does not name, and an `mssql` DSN in which a substituted credential could break the DSN or the
YAML (see `mssql_dsn`).

A value that is an environment reference (`${VAR}`) is only known once Redpanda Connect
substitutes it: its type and options are not checked.

The fields every component of some types takes besides its own (`label`, `processors`, ...)
are not in the specification file: `RESERVED` lists them, after Redpanda Connect's
`ReservedFieldsByType` (redpanda-data/benthos, internal/docs/config.go).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from dataplatform.cdc.lint import bloblang, environment, mssql_dsn
from dataplatform.cdc.lint.facts import Facts
from dataplatform.config.validate import suggestion

# field type → the components' category in the specification
CATEGORIES = {
    "input": "inputs",
    "output": "outputs",
    "processor": "processors",
    "cache": "caches",
    "rate_limit": "rate_limits",
    "buffer": "buffers",
    "metrics": "metrics",
    "tracer": "tracers",
    "scanner": "scanners",
}
_LABELLED = {"input", "output", "processor", "cache", "rate_limit"}
RESERVED = {
    kind: {"type", "plugin", "meta"}
    | ({"label"} if kind in _LABELLED else set())
    | ({"processors"} if kind in ("input", "output") else set())
    for kind in CATEGORIES
}
LABEL = re.compile(r"^[a-z0-9_\-]+$")
SQL_COMPONENTS = {"sql_raw", "sql_select", "sql_insert", "sql"}

_STR, _INT, _FLOAT, _BOOL, _NULL = (
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")
)
_SCALAR_CHECKS = {
    "int": lambda n: n.tag == _INT or (n.tag == _STR and re.fullmatch(r"[-+]?\d+", n.value)),
    "float": lambda n: (
        n.tag in (_INT, _FLOAT)
        or (n.tag == _STR and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", n.value))
    ),
    "bool": lambda n: n.tag == _BOOL or (n.tag == _STR and n.value in ("true", "false")),
}
_KIND_WORDS = {
    "scalar": "a single value",
    "array": "an array (a YAML list)",
    "2darray": "an array of arrays",
    "map": "a map (a YAML mapping of names)",
    "object": "an object (a YAML mapping)",
}


@dataclass(frozen=True)
class Finding:
    """One problem of a config: `file` as shown, `path` the YAML path, `line` 1-based."""

    file: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(root)'}: {self.message}"


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "object"
    if isinstance(node, yaml.SequenceNode):
        return "array"
    return "scalar"


class _Linter:
    def __init__(self, facts: Facts, file: str, with_lines: bool):
        self.facts = facts
        self.file = file
        self.with_lines = with_lines
        self.findings: list[Finding] = []
        self.labels: dict[str, int] = {}

    # --- reporting -----------------------------------------------------------------------

    def add(self, path: str, node: yaml.Node | None, message: str, row: int = 0) -> None:
        line = None
        if self.with_lines and node is not None:
            line = node.start_mark.line + 1 + row
            if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
                line += 1  # a block scalar's text starts on the line after its indicator
        self.findings.append(Finding(self.file, path, line, message))

    # --- fields --------------------------------------------------------------------------

    def field(self, spec: dict[str, Any], node: yaml.Node, path: str) -> None:
        kind = spec["kind"] or "scalar"
        if isinstance(node, yaml.ScalarNode) and (
            node.tag == _NULL or environment.only_reference(node.value)
        ):
            self.value(spec, node, path)
            return
        if kind == "scalar":
            self.value(spec, node, path)
        elif kind in ("array", "2darray"):
            if not isinstance(node, yaml.SequenceNode):
                self.wrong_kind(path, node, kind)
                return
            for i, item in enumerate(node.value):
                if kind == "2darray":
                    self.field({**spec, "kind": "array"}, item, f"{path}[{i}]")
                else:
                    self.value(spec, item, f"{path}[{i}]")
        elif kind == "map":
            if not isinstance(node, yaml.MappingNode):
                self.wrong_kind(path, node, kind)
                return
            for key, item in node.value:
                self.value(spec, item, f"{path}.{key.value}")

    def wrong_kind(self, path: str, node: yaml.Node, expected: str) -> None:
        got = _node_kind(node)
        self.add(
            path,
            node,
            f"wrong kind: must be {_KIND_WORDS[expected]}, got "
            f"{_KIND_WORDS[got] if got != 'object' else 'a YAML mapping'}",
        )

    def value(self, spec: dict[str, Any], node: yaml.Node, path: str) -> None:
        """One value of the field's type (an element, for an array or map)."""
        type_ = spec["type"]
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return  # null: the field's zero value
        if (
            isinstance(node, yaml.ScalarNode)
            and environment.only_reference(node.value)
            and type_ not in CATEGORIES
        ):
            return  # known only once substituted
        if type_ in CATEGORIES:
            self.component(type_, node, path)
        elif type_ == "object":
            if not isinstance(node, yaml.MappingNode):
                self.wrong_kind(path, node, "object")
            elif spec.get("children"):
                self.object(spec["children"], node, path)
        elif type_ in ("string", "int", "float", "bool"):
            if not isinstance(node, yaml.ScalarNode):
                self.wrong_kind(path, node, "scalar")
                return
            self.scalar(spec, node, path)

    def scalar(self, spec: dict[str, Any], node: yaml.ScalarNode, path: str) -> None:
        type_, text = spec["type"], node.value
        substituted = environment.references(text)
        if type_ in _SCALAR_CHECKS and not substituted and not _SCALAR_CHECKS[type_](node):
            word = {"int": "an integer", "float": "a number", "bool": "true or false"}[type_]
            self.add(path, node, f"must be {word}, got {text!r}")
            return
        options = spec.get("options")
        if options and not substituted and text.lower() not in {o.lower() for o in options}:
            near = suggestion(text, options)
            self.add(
                path,
                node,
                f"{text!r} is not one of the options "
                f"({', '.join(options)})" + (f" — did you mean '{near}'?" if near else ""),
            )
        if type_ != "string":
            return
        if spec.get("bloblang"):
            self.mapping(text, node, path)
        elif spec.get("interpolated"):
            self.interpolated(text, node, path)

    def object(self, children: list[dict[str, Any]], node: yaml.MappingNode, path: str) -> None:
        by_name = {c["name"]: c for c in children}
        present = set()
        for key, item in node.value:
            name = key.value
            here = f"{path}.{name}" if path else name
            child = by_name.get(name)
            if child is None:
                near = suggestion(str(name), by_name)
                self.add(
                    here,
                    key,
                    "unknown field"
                    + (f" — did you mean '{near}'?" if near else f"; fields: {', '.join(by_name)}"),
                )
                continue
            present.add(name)
            if child.get("deprecated"):
                self.add(
                    here,
                    key,
                    "deprecated field (Redpanda Connect "
                    f"{self.facts.version}) — see its documentation for the "
                    "replacement",
                )
            self.field(child, item, here)
        for child in children:
            if child["name"] not in present and _required(child):
                self.add(
                    path, node, f"required field '{child['name']}' missing (it has no default)"
                )

    # --- components ----------------------------------------------------------------------

    def component(self, type_: str, node: yaml.Node, path: str) -> None:
        category = CATEGORIES[type_]
        known = self.facts.components.get(category, {})
        if not isinstance(node, yaml.MappingNode):
            self.add(
                path,
                node,
                f"must be {type_.replace('_', ' ')} component (a YAML mapping "
                f"with one of: {', '.join(sorted(known))[:200]}...)",
            )
            return
        reserved = RESERVED[type_]
        names = [(k, v) for k, v in node.value if k.value not in reserved]
        if not names:
            self.add(path, node, f"no {type_.replace('_', ' ')} component given")
        for key, item in names:
            name = key.value
            here = f"{path}.{name}" if path else name
            entry = known.get(name)
            if entry is None:
                near = suggestion(str(name), known)
                self.add(
                    here,
                    key,
                    f"unknown {type_.replace('_', ' ')} component '{name}'"
                    + (f" — did you mean '{near}'?" if near else ""),
                )
                continue
            if len(names) > 1:
                self.add(
                    here,
                    key,
                    f"more than one {type_.replace('_', ' ')} component here "
                    f"({', '.join(k.value for k, _ in names)}) — keep one",
                )
            if entry.get("status") == "deprecated":
                self.add(
                    here,
                    key,
                    f"deprecated {type_.replace('_', ' ')} component "
                    f"(Redpanda Connect {self.facts.version})",
                )
            self.field(entry["config"], item, here)
            if name in SQL_COMPONENTS and isinstance(item, yaml.MappingNode):
                self.sql_dsn(item, here)
        for key, item in node.value:
            here = f"{path}.{key.value}" if path else key.value
            if key.value == "label":
                self.label(item, here)
            elif key.value == "processors" and "processors" in reserved:
                self.field({"name": "processors", "kind": "array", "type": "processor"}, item, here)

    def label(self, node: yaml.Node, path: str) -> None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL or not node.value:
            return
        text = node.value
        if not LABEL.match(text) or text.startswith(("_", "-")):
            self.add(
                path,
                node,
                f"invalid label {text!r}: use lower-case letters, digits, '_' and '-', not first",
            )
        elif text in self.labels:
            self.add(
                path,
                node,
                f"label {text!r} is already used on line {self.labels[text]}"
                " — labels must be unique",
            )
        else:
            self.labels[text] = node.start_mark.line + 1

    # --- Bloblang and DSNs ---------------------------------------------------------------

    def mapping(self, text: str, node: yaml.ScalarNode, path: str) -> None:
        text = environment.REFERENCE.sub(lambda m: _default(m.group(0)), text)
        for problem in bloblang.check(text, self.facts.functions, self.facts.methods):
            self.add(path, node, problem.message, problem.row)

    def interpolated(self, text: str, node: yaml.ScalarNode, path: str) -> None:
        found, error = bloblang.interpolations(text)
        if error:
            self.add(path, node, error)
        for item in found:
            row = text.count("\n", 0, item.offset)
            for problem in bloblang.check(
                item.query, self.facts.functions, self.facts.methods, query=True
            ):
                self.add(path, node, f"in ${{! ... }}: {problem.message}", row + problem.row)

    def sql_dsn(self, node: yaml.MappingNode, path: str) -> None:
        fields = {k.value: v for k, v in node.value}
        driver, dsn = fields.get("driver"), fields.get("dsn")
        if not isinstance(dsn, yaml.ScalarNode) or not environment.references(dsn.value):
            return
        here = f"{path}.dsn"
        if dsn.style not in ("|", ">"):
            self.add(
                here,
                dsn,
                "a DSN with ${VAR} references must be a YAML block scalar "
                "(|-): values are substituted into the text before the YAML is "
                "read, so a ' #' or ': ' in a password would cut or break it",
            )
        if isinstance(driver, yaml.ScalarNode) and driver.value == "mssql":
            for message in _mssql_dsn_problems(dsn.value):
                self.add(here, dsn, message)


@functools.lru_cache(maxsize=1024)
def _mssql_dsn_problems(dsn: str) -> tuple[str, ...]:
    """Why substituting the environment into this SQL Server DSN could break it (cached: every
    table of a source repeats its DSN)."""
    if mssql_dsn.form(dsn) != "ado":
        if environment.only_reference(dsn):
            return ()
        return (
            "a URL or odbc: DSN cannot hold a raw ${VAR} safely — use the ADO form with "
            'quoted values: key="${VAR}";...',
        )
    problems = []
    parts = [p for p in mssql_dsn.parts(dsn) if p.strip()]
    for i, part in enumerate(parts):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not environment.references(value):
            continue
        if not (len(value) >= 2 and value.startswith('"') and value.endswith('"')):
            problems.append(
                f"{key}={value}: a substituted value must be double-quoted "
                f"({key}=\"{value}\"): a ';' in it would end it"
            )
        elif key.lower() in ("password", "pwd") and i != len(parts) - 1:
            problems.append(
                "the password must be the DSN's last value: a '\"' in it could "
                "otherwise swallow the values after it"
            )
    return tuple(problems)


def _default(reference: str) -> str:
    body = reference[2:-1]
    _, colon, default = body.partition(":")
    return default if colon else ""


def _required(spec: dict[str, Any]) -> bool:
    """Redpanda Connect's own rule (`FieldSpecs.LintYAML`, redpanda-data/benthos
    internal/docs/format_yaml.go): a missing field is an error when it has no default, is not
    optional, is a single value (kind scalar) without children and is not a component."""
    return (
        bool(spec.get("required"))
        and (spec["kind"] or "scalar") == "scalar"
        and not spec.get("children")
        and spec["type"] not in CATEGORIES
    )


def lint_text(text: str, file: str, facts: Facts, with_lines: bool = True) -> list[Finding]:
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None and with_lines else None
        return [Finding(file, "", line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    linter = _Linter(facts, file, with_lines)
    if root is None:
        return [Finding(file, "", None, "empty config")]
    if not isinstance(root, yaml.MappingNode):
        return [Finding(file, "", 1 if with_lines else None, "a config is a YAML mapping")]
    linter.object(facts.config.get("children", []), root, "")
    return linter.findings
