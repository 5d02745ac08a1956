"""Parse a YAML file into plain Python data plus the line of every key and value.

PyYAML's composed node tree carries positions; we construct the data ourselves from it so that
each mapping key, list item and scalar keeps its line. Duplicate keys, which PyYAML would
silently collapse, are an error here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataplatform.errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """The data of one YAML file and the 1-based line of every path inside it."""

    path: Path
    display: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, keypath: KeyPath) -> int | None:
        """The line of `keypath`, or of its nearest ancestor that has one."""
        probe = tuple(keypath)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get(())

    def error(self, keypath: KeyPath, problem: str, fix: str = "") -> ConfigError:
        return ConfigError(self.display, self.line(keypath), dotted(keypath), problem, fix)


def dotted(keypath: KeyPath) -> str:
    out = ""
    for part in keypath:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(self, document: YamlDocument):
        self.document = document
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, keypath: KeyPath) -> Any:
        self.document.lines.setdefault(keypath, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise ConfigError(
                        self.document.display,
                        key_node.start_mark.line + 1,
                        dotted(keypath),
                        "mapping keys must be plain scalars",
                    )
                child = (*keypath, str(key))
                if key in result:
                    raise ConfigError(
                        self.document.display,
                        key_node.start_mark.line + 1,
                        dotted(child),
                        f"duplicate key (first defined on line {self.document.lines[child]})",
                        "keep one of them",
                    )
                self.document.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*keypath, i)) for i, item in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. a date YAML recognises but the calendar refuses
            kind = node.tag.rsplit(":", 1)[-1]
            raise ConfigError(
                self.document.display,
                node.start_mark.line + 1,
                dotted(keypath),
                f"{node.value!r} is not a valid {kind} ({exc})",
                "quote it if it is meant as text",
            ) from None


def load_yaml(path: Path, display: str | None = None) -> YamlDocument:
    """Load `path`; syntax errors become a `ConfigError` with the line PyYAML points at."""
    shown = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, None, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, None, "", f"cannot read it ({exc})") from None
    return parse_yaml(text, shown, Path(path))


def _compose(text: str) -> yaml.Node | None:
    """libyaml's composer where PyYAML has it (10x faster: doit reads every pipeline.yaml on
    each load); a document it refuses is composed again in Python, so the error is worded as
    always."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_yaml(text: str, display: str, path: Path | None = None) -> YamlDocument:
    document = YamlDocument(path=path or Path(display), display=display, data=None)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        context = exc.context_mark
        if exc.context and context and context.line + 1 != line:
            problem += f" ({exc.context.strip()} started on line {context.line + 1})"
        raise ConfigError(display, line, "", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(display, None, "", f"invalid YAML: {exc}") from None
    if node is None:
        document.data = None
        return document
    try:
        document.data = _Builder(document).build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(display, line, "", f"invalid YAML value: {exc.problem}") from None
    return document
