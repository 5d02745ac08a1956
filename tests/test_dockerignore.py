"""Docker's .dockerignore semantics, pattern by pattern (the engine parity test is separate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.dockerignore import (
    DockerignoreError,
    PatternMatcher,
    read_patterns,
    walk_context,
)


def matcher(text: str) -> PatternMatcher:
    return PatternMatcher.from_lines(read_patterns(text))


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),  # '*' does not cross '/'
        ("**/*.md", "docs/deep/README.md", True),
        ("**/*.md", "README.md", True),
        ("/build", "build/out.o", True),  # leading '/' is anchored to the root, then stripped
        ("build", "src/build", False),  # no implicit '**/' as gitignore has
        ("docs/**", "docs/a/b.txt", True),
        ("**/__pycache__", "a/b/__pycache__/x.pyc", True),
        ("a/?.txt", "a/b.txt", True),
        ("a/?.txt", "a/bc.txt", False),
        ("[a-c].txt", "b.txt", True),
        ("[^a-c].txt", "b.txt", False),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md\nREADME.md", "README.md", True),  # the last match wins
        ("node_modules\n!node_modules/keep.js", "node_modules/keep.js", False),
        ("./a/../b", "b", True),  # patterns are cleaned
        ("  spaced  ", "spaced", True),
        ("# comment\n\n", "# comment", False),
    ],
)
def test_pattern_semantics(patterns: str, path: str, excluded: bool) -> None:
    assert matcher(patterns).matches_or_parent_matches(path) is excluded


def test_comment_only_at_line_start() -> None:
    m = matcher(" #notacomment")
    assert m.patterns[0].text == "#notacomment"


@pytest.mark.parametrize(
    ("text", "line"),
    [("ok\n!\n", 2), ("[abc\n", 1), ("ok\nfoo\\\n", 2), ("a/[]\n", 1), ("x/[z-\n", 1)],
)
def test_malformed_patterns_name_their_line(text: str, line: int) -> None:
    with pytest.raises(DockerignoreError) as info:
        matcher(text)
    assert info.value.line == line


def make_tree(root: Path, files: list[str]) -> None:
    for relpath in files:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relpath)


def selected(root: Path, patterns: str) -> list[str]:
    return sorted(e.relpath for e in walk_context(root, matcher(patterns)))


def test_walk_reincludes_under_an_excluded_dir_only_by_literal_prefix(tmp_path: Path) -> None:
    make_tree(tmp_path, ["docs/a.md", "docs/b.txt", "keep/x.md", "top.md"])
    # `!**/*.md` does not textually start with "docs/", so the engine never looks inside docs/.
    assert selected(tmp_path, "docs\n!**/*.md") == ["keep/x.md", "top.md"]
    # `!docs/a.md` does, so docs/ is walked and a.md comes back.
    assert selected(tmp_path, "docs\n!docs/a.md") == ["docs/a.md", "keep/x.md", "top.md"]


def test_walk_skips_empty_directories_and_keeps_symlinks(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/file"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to("a/file")
    entries = {e.relpath: e.kind for e in walk_context(tmp_path, matcher(""))}
    assert entries == {"a/file": "file", "link": "link"}
