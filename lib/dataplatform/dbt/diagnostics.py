"""What a person needs when dbt stops: dbt's own explanation (never just "Compilation Error"),
the file and line it points at, shown from the repository root, and where dbt's full log is.

dbt prints an error that stops the whole run (a parse or compile error: a missing `ref`, broken
Jinja, a schema YAML that does not parse) as "Encountered an error:" followed by its reason; its
file is relative to the dbt project (or to a model path), and its line is given for Jinja and
YAML errors only. For an unknown `ref`/`source`/macro the line is found in the file named.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from dataplatform.dbt import layout

_ENCOUNTERED = "Encountered an error:"
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d(?:\.\d+)?\s+")
_SUFFIXES = r"(?:sql|ya?ml|csv|py|md)"
_FILES = (
    re.compile(rf"\(((?:[\w.-]+/)*[\w.-]+\.{_SUFFIXES})\)"),  # "in model x (models/x.sql)"
    re.compile(r"given in ((?:[\w.-]+/)*[\w.-]+\.ya?ml)\b"),  # "Invalid ... config given in"
    re.compile(rf"Error reading [\w.-]+: ((?:[\w.-]+/)*[\w.-]+\.{_SUFFIXES}) - "),
)
_LINE = re.compile(r"\b(?:near )?line (\d+)\b")
_NAMED = re.compile(r"named '([^']+)'|'([^']+)' is undefined")
_MAX_LINES = 24


@dataclass(frozen=True)
class Location:
    path: str  # as the user sees it, from the repository root
    line: int | None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def error_block(output: str) -> list[str]:
    """dbt's explanation of the error that stopped the run, as dbt printed it (blank lines and
    rules dropped); without one, dbt's last lines."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if _ENCOUNTERED in line]
    tail = [_TIMESTAMP.sub("", line) for line in lines[-8:]]
    body = lines[starts[-1] + 1 :] if starts else tail
    kept = [line.rstrip() for line in body if line.strip() and set(line.strip()) != {"-"}]
    kept = textwrap.dedent("\n".join(kept)).splitlines()
    if len(kept) > _MAX_LINES:
        kept = [*kept[:_MAX_LINES], f"… {len(kept) - _MAX_LINES} more lines in the log"]
    return kept


def _resolve(relative: str, pipeline_dir: Path, root: Path) -> Path | None:
    dbt_dir = layout.dbt_dir(pipeline_dir)
    candidates = [
        dbt_dir / relative,
        *(dbt_dir / d / relative for d in layout.INPUT_DIRS),
        root / layout.SHARED_MACROS / relative,
        root / layout.SHARED_MACROS.parent / relative,
    ]
    return next((c for c in candidates if c.is_file()), None)


def _line_of(name: str, path: Path) -> int | None:
    """The first line of `path` that mentions `name` (quoted, else as a word)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    names = [name, name.rsplit(".", 1)[-1]] if "." in name else [name]
    for candidate in names:
        for pattern in (rf"""['"]{re.escape(candidate)}['"]""", rf"\b{re.escape(candidate)}\b"):
            for number, line in enumerate(text, 1):
                if re.search(pattern, line):
                    return number
    return None


def locate(message: str, pipeline_dir: Path, root: Path) -> Location | None:
    """The file (and line, when known) a dbt error message points at."""
    for pattern in _FILES:
        found = pattern.search(message)
        if found:
            break
    else:
        return None
    path = _resolve(found.group(1), pipeline_dir, root)
    if path is None:
        return None
    line_match = _LINE.search(message)
    line = int(line_match.group(1)) if line_match else None
    if line is None:
        named = _NAMED.search(message)
        if named:
            line = _line_of(named.group(1) or named.group(2), path)
    return Location(shown_path(path, root), line)


def shown_path(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def report(
    head: str,
    output: str,
    pipeline_dir: Path,
    root: Path,
    log_file: Path,
    node_lines: list[str] | None = None,
) -> str:
    """The whole message of a failed dbt run: `head` (with the file:line dbt points at), then
    one line per failing node when nodes failed, else dbt's own explanation, then the log."""
    if node_lines:
        details = node_lines
    else:
        details = error_block(output)
        where = locate("\n".join(details), pipeline_dir, root)
        if where:
            head = f"{head} at {where}"
    return "\n".join(
        [head, *(f"    {line}" for line in details), f"    full log: {shown_path(log_file, root)}"]
    )
