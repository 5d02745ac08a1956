"""`${VAR}` in service definitions, as docker compose reads them: `${VAR}`, `${VAR:-default}`
(default when unset or empty), `${VAR-default}` (default when unset), and `$$` for a literal
`$`. Values come from the environment, then from the checkout's `.env`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from dataplatform import settings
from dataplatform.errors import UserError

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_]\w*)")


class MissingVariable(UserError):
    def __init__(self, variable: str, where: str):
        self.variable = variable
        super().__init__(
            f"{where}: ${{{variable}}} has no value — set {variable} in .env "
            "(invoke setup writes one) or in the environment"
        )


class Variables(Mapping[str, str]):
    """The environment over the checkout's `.env`, read one name at a time: what a config
    depends on is the variables it names (the load cache records exactly those), not the whole
    environment."""

    def __init__(self, project_root: Path):
        self.file = settings.read_env_file(project_root / settings.ENV_FILE)

    def __getitem__(self, name: str) -> str:
        value = os.environ.get(name)
        return self.file[name] if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter({**self.file, **os.environ})

    def __len__(self) -> int:
        return len({**self.file, **os.environ})


def variables(project_root: Path) -> Mapping[str, str]:
    return Variables(project_root)


def interpolate(text: str, values: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3)
        value = values.get(name)
        if operator == ":-" and not value:
            return default or ""
        if operator == "-" and value is None:
            return default or ""
        if value is None:
            raise MissingVariable(name, where)
        return value

    return _REFERENCE.sub(replace, text)


def references(text: str) -> list[tuple[str, bool]]:
    """(variable, has a default) for every variable `text` reads (for `invoke doctor`)."""
    return [
        (m.group(1) or m.group(4), m.group(2) is not None)
        for m in _REFERENCE.finditer(text)
        if m.group(0) != "$$"
    ]
