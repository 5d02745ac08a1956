"""Durations as docker compose writes them: `500ms`, `10s`, `1m30s`, `2h`."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: object) -> float | None:
    """Seconds, or None when `text` is not a duration."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    position, total = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total if position == len(value) and position > 0 else None
