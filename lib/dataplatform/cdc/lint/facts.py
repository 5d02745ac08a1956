"""The facts of Redpanda Connect's component specification the CDC lint needs, vendored.

`redpanda_connect_spec.json` (beside this module) is derived from the specification Redpanda
Connect publishes per release (`components-<version>.json`: every component's fields with their
types, kinds, options, defaults and status, and the Bloblang function and method names) by
`derive`, which `tools/scripts/refresh_connect_spec.py` runs. It keeps only what the lint reads:

- per field: `name`, `kind` (scalar, array, 2darray, map; "" where the spec leaves it empty),
  `type` (string, int, float, bool, object, unknown, or a component type such as `processor`),
  and, only when they hold, `required` (no default and not optional), `deprecated`,
  `interpolated` (takes `${! ... }`), `bloblang` (is a Bloblang mapping or query), `options`
  and `children`;
- per component: its `status` and its `config` field;
- the root `config` field, and the names of Bloblang functions and methods.

Descriptions, examples, default values and `is_advanced` are dropped. The file carries the
Redpanda Connect version it came from (`redpanda_connect_version`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FACTS_FILE = Path(__file__).with_name("redpanda_connect_spec.json")
REFRESH_SCRIPT = "tools/scripts/refresh_connect_spec.py"
_FLAGS = (
    ("is_deprecated", "deprecated"),
    ("interpolated", "interpolated"),
    ("bloblang", "bloblang"),
)


class SpecError(ValueError):
    """The specification file is not the shape `derive` reads."""


def _field(spec: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        out: dict[str, Any] = {"name": spec["name"], "kind": spec["kind"], "type": spec["type"]}
    except (KeyError, TypeError) as exc:
        raise SpecError(f"{where}: a field without name, kind or type") from exc
    if "default" not in spec and not spec.get("is_optional"):
        out["required"] = True
    for source, target in _FLAGS:
        if spec.get(source):
            out[target] = True
    if spec.get("options"):
        out["options"] = list(spec["options"])
    children = spec.get("children") or []
    if children:
        out["children"] = [_field(c, f"{where}.{c.get('name', '?')}") for c in children]
    return out


def derive(spec: dict[str, Any]) -> str:
    """The vendored facts (JSON text, one component per line) of a specification file's data."""
    try:
        version = str(spec["version"])
        components = spec["components"]
        functions = sorted(spec["bloblang_functions"])
        methods = sorted(spec["bloblang_methods"])
        root = _field(spec["config"], "config")
    except (KeyError, TypeError) as exc:
        raise SpecError(f"not a Redpanda Connect component specification: no {exc}") from exc

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    lines = [
        "{",
        f'"redpanda_connect_version": {dump(version)},',
        f'"derived_from": {dump(str(spec.get("source", "")))},',
        f'"specification_date": {dump(str(spec.get("date", "")))},',
        f'"derived_by": {dump(REFRESH_SCRIPT)},',
        f'"bloblang_functions": {dump(functions)},',
        f'"bloblang_methods": {dump(methods)},',
        f'"config": {dump(root)},',
        '"components": {',
    ]
    categories = sorted(components)
    for i, category in enumerate(categories):
        lines.append(f"{dump(category)}: {{")
        names = sorted(components[category])
        for j, name in enumerate(names):
            component = components[category][name]
            entry = {
                "status": component.get("status", "stable"),
                "config": _field(component["config"], f"{category}.{name}"),
            }
            lines.append(f"{dump(name)}: {dump(entry)}" + ("," if j < len(names) - 1 else ""))
        lines.append("}" + ("," if i < len(categories) - 1 else ""))
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Facts:
    version: str
    functions: frozenset[str]
    methods: frozenset[str]
    config: dict[str, Any]
    components: dict[str, dict[str, dict[str, Any]]]  # category (inputs, ...) → name → entry


@functools.cache
def load(path: Path = FACTS_FILE) -> Facts:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Facts(
        version=data["redpanda_connect_version"],
        functions=frozenset(data["bloblang_functions"]),
        methods=frozenset(data["bloblang_methods"]),
        config=data["config"],
        components=data["components"],
    )
