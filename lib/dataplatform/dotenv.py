"""The checkout's `.env`, read: KEY=VALUE lines with their line numbers, and the lines that are
not (reported by `invoke setup` and `invoke doctor`, skipped by everything that only reads)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


@dataclass
class EnvFile:
    values: dict[str, str] = field(default_factory=dict)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)


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
        value = match.group(2).strip()
        if value[:1] in "'\"" and (len(value) < 2 or value[-1] != value[0]):
            parsed.malformed.append((number, f"{match.group(1)}: unclosed quote"))
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        parsed.values[match.group(1)] = value
    return parsed


def read(path: Path) -> EnvFile:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return EnvFile()
