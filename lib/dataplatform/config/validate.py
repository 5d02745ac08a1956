"""Checks shared by every YAML schema: allowed keys with a did-you-mean, and value types."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from dataplatform.config.yamlsource import KeyPath, YamlDocument

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
    float: "a number",
}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else ""


def check_keys(
    doc: YamlDocument, keypath: KeyPath, mapping: Mapping[str, Any], allowed: Iterable[str]
) -> None:
    """Raise on the first key of `mapping` not in `allowed`, suggesting the nearest one."""
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            near = suggestion(str(key), allowed)
            fix = f"did you mean '{near}'?" if near else f"allowed keys: {', '.join(allowed)}"
            raise doc.error((*keypath, str(key)), "unknown key", fix)


def expect(doc: YamlDocument, keypath: KeyPath, value: Any, kind: type, fix: str = "") -> Any:
    """Return `value` if it is of `kind` (bool never counts as int), else raise."""
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise doc.error(
            keypath, f"must be {_TYPE_NAMES.get(kind, kind.__name__)}, got {describe(value)}", fix
        )
    return value


def optional(
    doc: YamlDocument,
    keypath: KeyPath,
    mapping: Mapping[str, Any],
    key: str,
    kind: type,
    default: Any = None,
    fix: str = "",
) -> Any:
    if key not in mapping or mapping[key] is None:
        return default
    return expect(doc, (*keypath, key), mapping[key], kind, fix)
