"""Docker's own `.dockerignore` semantics, as the docker CLI applies them to a build context.

A faithful port of moby/patternmatcher (pattern cleaning, `**`, `?`, `[...]`, `\\` escapes,
`!` re-includes evaluated in order with parent-directory results) and of the context walk in
moby's archive package, including its quirk: an excluded directory is only descended into when
some `!` pattern *textually starts with* that directory's path. `!**/*.md` therefore does not
bring back `docs/README.md` once `docs` is excluded — exactly as the engine sees it. This is not
gitignore; the parity tests compare it with what a real engine receives.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


class DockerignoreError(ValueError):
    """A pattern Docker would reject; `line` is 1-based within `.dockerignore`."""

    def __init__(self, line: int, pattern: str, problem: str):
        self.line = line
        self.pattern = pattern
        self.problem = problem
        super().__init__(f"line {line}: {pattern!r}: {problem}")


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash paths."""
    return posixpath.normpath(path) if path else "."


def _go_clean(path: str) -> str:
    cleaned = _clean(path)
    # posixpath keeps a leading '//' (POSIX allows it); Go collapses it.
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def read_patterns(text: str) -> list[tuple[int, str]]:
    """The patterns of a .dockerignore, with their line numbers (docker/cli ignorefile.ReadAll)."""
    patterns: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if number == 1 and raw.startswith("\ufeff"):
            raw = raw[1:]
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        if invert:
            pattern = "!" + pattern
        patterns.append((number, pattern))
    return patterns


def _check_go_pattern_syntax(pattern: str) -> str | None:
    """The error Go's filepath.Match would raise for `pattern`, or None when it is valid."""
    i, n = 0, len(pattern)

    def char(at: int) -> tuple[int, str | None]:
        if at >= n or pattern[at] in "-]":
            return at, "character class is malformed"
        if pattern[at] == "\\":
            at += 1
            if at >= n:
                return at, "escape at end of a character class"
        return at + 1, None

    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return "trailing backslash escapes nothing"
            i += 2
        elif c == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            ranges = 0
            while True:
                if i < n and pattern[i] == "]" and ranges > 0:
                    i += 1
                    break
                i, problem = char(i)
                if problem:
                    return f"unclosed or empty '[' ({problem})"
                if i < n and pattern[i] == "-":
                    i, problem = char(i + 1)
                    if problem:
                        return f"bad range in '[...]' ({problem})"
                ranges += 1
        else:
            i += 1
    return None


_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"
_REGEX_SPECIAL = set(".+()|{}$")


@dataclass
class Pattern:
    """One compiled pattern (moby/patternmatcher Pattern)."""

    text: str
    exclusion: bool
    kind: str = _EXACT
    regex: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, text: str, exclusion: bool) -> Pattern:
        pattern = cls(text, exclusion)
        reg = "^"
        kind = _EXACT
        i, n = 0, len(text)
        index = 0
        while i < n:
            ch = text[i]
            i += 1
            if ch == "*":
                if i < n and text[i] == "*":
                    i += 1
                    if i < n and text[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == _EXACT:
                            kind = _PREFIX
                        else:
                            reg += ".*"
                            kind = _REGEXP
                    else:
                        reg += "(.*/)?"
                        kind = _REGEXP
                    if index == 0:
                        kind = _SUFFIX
                else:
                    reg += "[^/]*"
                    kind = _REGEXP
            elif ch == "?":
                reg += "[^/]"
                kind = _REGEXP
            elif ch in _REGEX_SPECIAL:
                reg += "\\" + ch
            elif ch == "\\":
                if i < n:
                    reg += re.escape(text[i])
                    i += 1
                    kind = _REGEXP
                else:
                    reg += "\\\\"
            elif ch in "[]":
                reg += ch
                kind = _REGEXP
            else:
                reg += ch
            index += 1
        if kind == _REGEXP:
            pattern.regex = re.compile(reg + "$", re.DOTALL)
        pattern.kind = kind
        return pattern

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


@dataclass
class PatternMatcher:
    """An ordered list of patterns; later ones win, `!` ones re-include."""

    patterns: list[Pattern] = field(default_factory=list)

    @classmethod
    def from_lines(cls, numbered: list[tuple[int, str]]) -> PatternMatcher:
        matcher = cls()
        for line, raw in numbered:
            text = raw.strip()
            if not text:
                continue
            text = _go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise DockerignoreError(line, raw, 'a lone "!" excludes nothing')
                text = text[1:]
            problem = _check_go_pattern_syntax(text)
            if problem:
                raise DockerignoreError(line, raw, problem)
            matcher.patterns.append(Pattern.compile(text, exclusion))
        return matcher

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def matches_or_parent_matches(self, path: str) -> bool:
        matched = False
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parents:
                hit = any(pattern.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_using_parent(
        self, path: str, parent_info: list[bool] | None
    ) -> tuple[bool, list[bool]]:
        """moby's MatchesUsingParentResults: (excluded?, per-pattern results for children)."""
        matched = False
        info = [False] * len(self.patterns)
        for index, pattern in enumerate(self.patterns):
            hit = parent_info[index] if parent_info else False
            if not hit:
                if pattern.exclusion != matched:
                    continue
                hit = pattern.match(path)
                if not hit and not parent_info:
                    parent = posixpath.dirname(path)
                    if parent:
                        parts = parent.split("/")
                        hit = any(
                            pattern.match("/".join(parts[: i + 1])) for i in range(len(parts))
                        )
            info[index] = hit
            if hit:
                matched = not pattern.exclusion
        return matched, info

    def may_reinclude_under(self, directory: str) -> bool:
        """Whether the walk must descend into an excluded `directory` (moby's prefix test)."""
        if not self.has_exclusions:
            return False
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


@dataclass(frozen=True)
class WalkEntry:
    """A path the context walk keeps: a regular file, a symlink, or something else."""

    relpath: str
    path: str  # absolute
    stat: os.stat_result
    kind: str  # "file" | "link" | "other"


def walk_context(root: Path, matcher: PatternMatcher) -> Iterator[WalkEntry]:
    """Yield the non-directory entries the engine would receive, in lexical walk order.

    Directories are not yielded: empty ones are not part of the fingerprint (git cannot carry
    them, so a fresh clone would otherwise differ), and the rest are implied by their files.
    """

    patterns = bool(matcher.patterns)

    def walk(absolute: str, directory: str, parent_info: list[bool] | None) -> Iterator[WalkEntry]:
        with os.scandir(absolute) as it:
            entries = sorted(it, key=_name)
        for entry in entries:
            rel = f"{directory}/{entry.name}" if directory else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            info = None
            if patterns:
                excluded, info = matcher.matches_using_parent(rel, parent_info)
                if excluded and (not is_dir or not matcher.may_reinclude_under(rel)):
                    continue
            if is_dir:
                yield from walk(entry.path, rel, info)
                continue
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                kind = "link"
            elif stat.S_ISREG(st.st_mode):
                kind = "file"
            else:
                kind = "other"
            yield WalkEntry(rel, entry.path, st, kind)

    yield from walk(str(root), "", None)


def _name(entry: os.DirEntry) -> str:
    return entry.name
