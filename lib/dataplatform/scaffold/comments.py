"""What a template file says once its comments are set aside, so a comment-only change to a
template is no change a user has to act on (`pipelines.outdated`, `pipelines.update`).

By file type: `#` comments in YAML (whole-line, or after a space outside quotes; block scalars
are text), whole-line `#` comments in Python, shell, TOML, Dockerfiles (a first-line `#!` is
kept); `--` and `/* */` in SQL; `<!-- -->` in Markdown; `{# #}` (Jinja, which renders every
template file) everywhere. A line that held only a comment is dropped, trailing blank lines do
not count. When in doubt a character is kept: a missed comment only means a change is shown.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_YAML = {".yaml", ".yml"}
_HASH_WHOLE_LINE = {".py", ".sh", ".toml", ".cfg", ".ini", ".conf", ".env", ".txt"}
_HASH_NAMES = {"dockerfile", ".gitignore", ".dockerignore", ".env.example"}
_SQL = {".sql"}
_MARKDOWN = {".md", ".markdown"}
_BLOCK_SCALAR = re.compile(r"(?:^|[\s:\-])[|>][+-]?\d*\s*(?:#.*)?$")
_OPENS_QUOTE_AFTER = " \t:[{,-"


def significant(relpath: str, data: bytes) -> bytes:
    """`data` without its comments (by `relpath`'s type); binary files as they are."""
    if b"\0" in data:
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    path = PurePosixPath(relpath)
    suffix, name = path.suffix.lower(), path.name.lower()
    lines = _JINJA_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text).split("\n")
    original = text.split("\n")
    if suffix in _YAML:
        lines = _yaml(lines)
    elif suffix in _SQL:
        lines = _sql(lines)
    elif suffix in _MARKDOWN:
        lines = _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), "\n".join(lines)).split(
            "\n"
        )
    elif suffix in _HASH_WHOLE_LINE or name in _HASH_NAMES or name.startswith("dockerfile"):
        lines = [
            line
            if (number == 0 and line.startswith("#!")) or not line.lstrip().startswith("#")
            else ""
            for number, line in enumerate(lines)
        ]
    kept = [
        line.rstrip() if line != before else line
        for line, before in zip(lines, original, strict=False)
        if line.strip() or not before.strip()
    ]
    return "\n".join(kept).rstrip().encode("utf-8")


def _yaml(lines: list[str]) -> list[str]:
    out: list[str] = []
    block_indent: int | None = None  # inside a block scalar more indented than this
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                out.append(line)
                continue
            block_indent = None
        cut = _yaml_comment_at(line)
        kept = line if cut is None else line[:cut]
        if _BLOCK_SCALAR.search(kept.rstrip()):
            block_indent = indent
        out.append(kept)
    return out


def _yaml_comment_at(line: str) -> int | None:
    quote: str | None = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (i == 0 or line[i - 1] in _OPENS_QUOTE_AFTER):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return None


def _sql(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_block = False
    for line in lines:
        kept, i, quote = [], 0, None
        while i < len(line):
            pair = line[i : i + 2]
            if in_block:
                if pair == "*/":
                    in_block, i = False, i + 2
                else:
                    i += 1
                continue
            char = line[i]
            if quote:
                kept.append(char)
                if char == quote:
                    quote = None
            elif char in "'\"":
                quote = char
                kept.append(char)
            elif pair == "--":
                break
            elif pair == "/*":
                in_block, i = True, i + 2
                continue
            else:
                kept.append(char)
            i += 1
        out.append("".join(kept))
    return out
