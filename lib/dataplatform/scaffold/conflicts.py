"""Merge-conflict markers left in a pipeline's files (by `pipelines.update`, or by git): found
before dbt or the manifest loader would trip over them with a parse error that hides the cause.

A marker is a line starting with `<<<<<<<`, `|||||||` or `>>>>>>>` followed by a space or the
line's end (a lone `=======` is also a Markdown heading underline, so it is not looked for).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from dataplatform.errors import UserError

_MARKER = re.compile(rb"^(?:<{7}|\|{7}|>{7})(?: |\r?$)", re.M)


def first_marker(path: Path) -> int | None:
    """The line number of the first conflict marker in `path`, or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    found = _MARKER.search(data)
    return data.count(b"\n", 0, found.start()) + 1 if found else None


def find(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Every file of `paths` holding a marker, with its first marker's line."""
    hits = []
    for path in paths:
        line = first_marker(path)
        if line is not None:
            hits.append((path, line))
    return hits


def refuse(paths: Iterable[Path], root: Path, then: str) -> None:
    """Raise one line naming the first file:line with a conflict marker (and how many other
    files have one); `then` says what to run once they are resolved."""
    hits = find(paths)
    if not hits:
        return
    path, line = hits[0]
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    more = f" (and {len(hits) - 1} more file(s))" if len(hits) > 1 else ""
    raise UserError(
        f"{shown}:{line}: unresolved merge conflict marker{more} — keep the lines "
        f"you want between <<<<<<< and >>>>>>>, delete the markers, then {then}"
    )
