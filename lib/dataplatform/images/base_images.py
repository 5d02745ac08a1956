"""The base images a Dockerfile's `FROM` lines name, checked against Docker's reference grammar
without an engine.

A malformed reference (`FROM Not_Lower/Case:1`) can never build anywhere, so it is an error even
offline, before the engine is asked. A well-formed name that does not exist (`pyhton:3.11`) can
only be told apart from an unreachable registry by the registry, so that is not judged here.
References that use a variable with no value here (a build arg set nowhere) are left to the
engine. The grammar is distribution/reference's, as `docker build` applies it
(`ParseNormalizedNamed`): an optional registry host (a first component with a `.` or `:`, or
`localhost`, or any upper-case letter), lowercase path components, a tag, a digest. Where
engine versions differ (an upper-case first component is a registry host for recent ones, an
error for older ones), the lenient reading is taken: nothing that builds on some engine is
refused here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dataplatform.errors import ImageError
from dataplatform.images.spec import ImageSpec

_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_NAME_MAX = 255

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s*(.*)$", re.S)
_ARG = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$", re.S)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def reference_problem(reference: str) -> str | None:
    """Why `reference` is not a valid image reference, or None when it is."""
    if reference == "scratch":
        return None
    name, _, digest = reference.partition("@")
    if "@" in reference and not _DIGEST.match(digest):
        return f"{digest!r} is not a digest (algorithm:hex)"
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            return f"tag {tag!r} is not valid (letters, digits, '_', '.', '-'; at most 128)"
    if not name:
        return "no repository name"
    if len(name) > _NAME_MAX:
        return f"the name is longer than {_NAME_MAX} characters"
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and (
        any(c in first for c in ".:") or first == "localhost" or first.lower() != first
    ):
        if not _DOMAIN.match(first):
            if not any(c in first for c in ".:") and first != "localhost":
                return "repository names must be lowercase"
            return f"{first!r} is not a valid registry host"
        components = components[1:]
    for component in components:
        if not _PATH_COMPONENT.match(component):
            if component.lower() != component:
                return "repository names must be lowercase"
            return (
                f"{component!r} is not a valid name component (lowercase letters and "
                "digits, separated by '.', '_', '__' or '-')"
            )
    return None


@dataclass(frozen=True)
class FromLine:
    line: int
    written: str  # as in the Dockerfile
    reference: str | None  # with args substituted; None when a variable has no value here


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction) with line continuations joined and comments dropped."""
    escape = "\\"
    directive = re.match(r"^\s*#\s*escape\s*=\s*([\\`])\s*$", text.split("\n", 1)[0], re.I)
    if directive:
        escape = directive.group(1)
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.lstrip().startswith("#"):
            continue  # a comment, also inside a continued instruction
        if not pending:
            start = number
        stripped = raw.rstrip()
        if stripped.endswith(escape):
            pending.append(stripped[:-1])
            continue
        pending.append(raw)
        result.append((start, " ".join(pending)))
        pending = []
    if pending:
        result.append((start, " ".join(pending)))
    return result


def _substitute(text: str, values: dict[str, str]) -> str | None:
    unresolved = False

    def one(match: re.Match) -> str:
        nonlocal unresolved
        name = match.group(1) or match.group(4)
        value = values.get(name)
        modifier, word = match.group(2), match.group(3) or ""
        if modifier == ":-":
            return value if value else word
        if modifier == ":+":
            return word if value else ""
        if value is None:
            unresolved = True
            return ""
        return value

    result = _VAR.sub(one, text)
    return None if unresolved or "$" in result else result


def from_lines(dockerfile_text: str, build_args: dict[str, str]) -> list[FromLine]:
    """Every `FROM` that names an image (not an earlier stage), with its reference resolved
    from the global ARG defaults and the build args."""
    values: dict[str, str] = {}  # the ARGs declared before the first FROM, as Docker scopes them
    stages: set[str] = set()
    seen_from = False
    found: list[FromLine] = []
    for number, instruction in _logical_lines(dockerfile_text):
        match = _INSTRUCTION.match(instruction)
        if not match:
            continue
        keyword, rest = match.group(1).upper(), match.group(2).strip()
        if keyword == "ARG" and not seen_from:
            for part in rest.split():
                arg = _ARG.match(part)
                if arg:
                    value = build_args.get(arg.group(1), (arg.group(2) or "").strip("\"'"))
                    if value:
                        values[arg.group(1)] = value
        elif keyword == "FROM":
            seen_from = True
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            written = words[0]
            if written.lower() not in stages:  # else it builds on an earlier stage
                found.append(FromLine(number, written, _substitute(written, values)))
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
    return found


def check(spec: ImageSpec, project_root: Path) -> None:
    """Raise an `ImageError` naming the Dockerfile line when a FROM names a malformed image."""
    try:
        text = spec.dockerfile.read_text(errors="replace")
    except OSError:
        return  # the fingerprint reports a missing or unreadable Dockerfile
    for line in from_lines(text, dict(spec.args)):
        if line.reference is None or line.written.lower() == "scratch":
            continue
        problem = reference_problem(line.reference)
        if problem:
            try:
                shown = spec.dockerfile.resolve().relative_to(project_root).as_posix()
            except ValueError:
                shown = str(spec.dockerfile)
            via = "" if line.reference == line.written else f" (from {line.written})"
            raise ImageError(
                spec.name,
                f"{shown}:{line.line}: FROM {line.reference}{via} is "
                f"not a valid image reference: {problem} — fix the base image "
                "name (e.g. python:3.11-slim, registry.example.com:5000/team/base:1)",
            )
