"""An image declaration (`build:` of a service, or `images:` of a pipeline) and its parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # parsing loads them; a spec rebuilt from doit's load cache does not
    from dataplatform.config.yamlsource import KeyPath, YamlDocument

BUILD_KEYS = ("name", "context", "dockerfile", "target", "args", "network")
# One path component of a Docker repository name.
IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True)
class ImageSpec:
    """Everything that decides an image: where its context and Dockerfile are, target, args."""

    name: str
    context: Path
    dockerfile: Path
    target: str | None
    args: tuple[tuple[str, str], ...]
    declared_in: str  # "file:line" of the declaration, for messages
    network: str | None = None  # network of RUN steps; does not change the result, not hashed

    @property
    def repository(self) -> str:
        return self.name


def parse_build(
    doc: YamlDocument, keypath: KeyPath, value: Any, name: str, base_dir: Path
) -> ImageSpec:
    """Parse a build section; `context` is relative to the declaring file's directory and
    `dockerfile` relative to the context, as in docker compose. A plain string is the context.
    `name` names the image (default: the service's); services that give the same name and the
    same build share one image. Build args may read `${VAR:-default}` from the environment or
    the checkout's `.env`: their values, not the references, are part of the fingerprint."""
    from dataplatform.config.validate import check_keys, describe, expect, optional

    if isinstance(value, dict) and value.get("name") is not None:
        name = expect(doc, (*keypath, "name"), value["name"], str)
    if not IMAGE_NAME.match(name):
        raise doc.error(
            keypath[:-1] or keypath,
            f"image name {name!r} is not a valid Docker repository name",
            "use lowercase letters, digits, '.', '_' or '-'",
        )
    if isinstance(value, str):
        value = {"context": value}
    expect(doc, keypath, value, dict, "give context, dockerfile, target and args")
    check_keys(doc, keypath, value, BUILD_KEYS)
    context = optional(doc, keypath, value, "context", str, ".")
    dockerfile = optional(doc, keypath, value, "dockerfile", str, "Dockerfile")
    target = optional(doc, keypath, value, "target", str, None)
    network = optional(doc, keypath, value, "network", str, None)
    raw_args = optional(doc, keypath, value, "args", dict, {})
    args: list[tuple[str, str]] = []
    for key, arg in raw_args.items():
        if not isinstance(arg, str):
            raise doc.error(
                (*keypath, "args", key),
                f"build arg must be a string, got {describe(arg)}",
                f'quote it: {key}: "{_yaml_text(arg)}"',
            )
        if "$" in arg:
            arg = _interpolated(arg, base_dir, f"{doc.display}:{doc.line((*keypath, 'args', key))}")
        args.append((str(key), arg))
    context_dir = (base_dir / context).resolve()
    return ImageSpec(
        name=name,
        context=context_dir,
        dockerfile=(context_dir / dockerfile).resolve(),
        target=target,
        args=tuple(sorted(args)),
        declared_in=f"{doc.display}:{doc.line(keypath)}",
        network=network,
    )


def _interpolated(text: str, base_dir: Path, where: str) -> str:
    from dataplatform import interpolate
    from dataplatform.project import find_project

    return interpolate.interpolate(
        text, interpolate.variables(find_project(base_dir).root), f"{where}: build arg"
    )


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)
