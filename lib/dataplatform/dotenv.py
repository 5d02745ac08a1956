"""The checkout's `.env`, read: KEY=VALUE lines with their line numbers, and the lines that are
not (reported by `invoke setup` and `invoke doctor`, skipped by everything that only reads).

Values are kept as written (quotes removed); expanding `${VAR}` in them is the business of
`dataplatform.settings`, which knows the environment. A single-quoted value is literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
_QUOTES = "'\""


@dataclass
class EnvFile:
    values: dict[str, str] = field(default_factory=dict)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)
    lines: dict[str, int] = field(default_factory=dict)  # key → the line that set it
    literal: set[str] = field(default_factory=set)  # keys whose value was single-quoted


def parse(text: str) -> EnvFile:
    parsed = EnvFile()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(raw)
        if not match:
            parsed.malformed.append((number, "not KEY=VALUE"))
            continue
        key, value = match.group(1), match.group(2).strip()
        quote = value[:1] if value[:1] and value[:1] in _QUOTES else ""
        if quote and (len(value) < 2 or value[-1] != quote):
            parsed.malformed.append((number, f"{key}: unclosed quote"))
            continue
        if quote:
            value = value[1:-1]
        parsed.values[key] = value
        parsed.lines[key] = number
        if quote == "'":
            parsed.literal.add(key)
        else:
            parsed.literal.discard(key)
    return parsed


def read(path: Path) -> EnvFile:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return EnvFile()
