"""Durations and signals as docker compose writes them: `500ms`, `10s`, `1m30s`, `2h`;
`SIGTERM`, `TERM`, `15`."""

from __future__ import annotations

import re
import signal

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_REALTIME = re.compile(r"^SIGRT(MIN\+\d+|MAX-\d+)$")
DEFAULT_STOP_SIGNAL = "SIGTERM"
DEFAULT_STOP_GRACE_S = 10.0  # the engine's and compose's default


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


def format_duration(seconds: float) -> str:
    """`10s`, `1m30s`, `0.5s`: the shortest compose duration for `seconds`."""
    if seconds >= 60 and float(seconds).is_integer():
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    return f"{seconds:g}s"


def signal_name(value: object) -> str | None:
    """The canonical name (`SIGUSR1`) of a signal given as a name or number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return signal.Signals(value).name
        except ValueError:
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().upper()
    if text.isdigit():
        return signal_name(int(text))
    if not text.startswith("SIG"):
        text = "SIG" + text
    if _REALTIME.match(text):
        return text
    return text if text in signal.Signals.__members__ and not text.startswith("SIG_") else None
