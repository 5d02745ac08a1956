"""Redpanda Connect's environment-variable references, `${VAR}`, `${VAR:default}`.

Redpanda Connect replaces them in the config's *text*, before the YAML is parsed, with the
variable's value as it is (only a newline becomes the two characters `\\n`), then turns an
escaped `${{VAR}}` into the literal `${VAR}`. So a value is never quoted or escaped for the YAML
or for the field's own grammar (a DSN): the config must be laid out so that any value is safe
where it lands. Mirrors `ReplaceEnvVariables` of redpanda-data/benthos
(internal/config/env_vars.go).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

REFERENCE = re.compile(r"\$\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?(?:\|[0-9A-Za-z]+)?\}")
_ESCAPED = re.compile(r"\$\{(\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?\})\}")


def references(text: str) -> bool:
    return REFERENCE.search(text) is not None


def only_reference(text: str) -> bool:
    """The whole value is one reference: its type is only known once substituted."""
    return REFERENCE.fullmatch(text.strip()) is not None


def substitute(text: str, environment: Mapping[str, str]) -> str:
    """The text as Redpanda Connect reads it with `environment` (unset or empty: the default,
    else empty; a `|base64decode` transform is not applied here)."""

    def value(match: re.Match[str]) -> str:
        body = match.group(0)[2:-1]
        name, colon, default = body.partition(":")
        if not colon:
            name = name.rsplit("|", 1)[0]
        else:
            default = default.rsplit("|", 1)[0] if "|" in default else default
        found = environment.get(name, "")
        return (found or (default if colon else "")).replace("\n", "\\n")

    return _ESCAPED.sub(r"$\1", REFERENCE.sub(value, text))
