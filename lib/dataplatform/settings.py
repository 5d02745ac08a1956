"""Toolkit settings, read through one place: the environment, then the checkout's `.env`.

The environment wins over `.env`, so CI can set everything with variables while a workstation
keeps its choices in the git-ignored `.env` written by `invoke setup`. Every reader of a
setting — doit's tasks, invoke's commands, the dbt runs (`environment()` is what dbt's
`env_var()` sees), the service definitions' `${VAR}` — asks this module.

A `.env` value may reference other values as `${VAR}` or `${VAR:-default}` (as docker compose
and python-dotenv read it; a single-quoted value is literal): the environment first, then the
keys above it in `.env`. That is how `CDC_POSTGRES_DSN` carries `POSTGRES_PASSWORD` without a
second copy of the secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dataplatform import dotenv
from dataplatform.errors import ConfigError, UserError
from dataplatform.project import ENV_FILE

REGISTRY = "DATAPLATFORM_REGISTRY"
STRICT = "DATAPLATFORM_STRICT"
# Where managed tool environments live when not in the checkout's `.dataplatform/envs/`:
# several clones (or a test suite's throwaway checkouts) can share one set.
ENVS_DIR = "DATAPLATFORM_ENVS_DIR"
# The dbt target every `dbt:<pipeline>` build uses.
DBT_TARGET = "DATAPLATFORM_DBT_TARGET"
DBT_TARGETS = ("duckdb", "postgres")
_TRUE = {"1", "true", "yes", "on"}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_env_file(path: Path) -> dict[str, str]:
    """The values of a dotenv file, `${VAR}` expanded; malformed lines are skipped here
    (`invoke doctor` reports them)."""
    parsed = dotenv.read(path)
    values: dict[str, str] = {}
    for key, raw in parsed.values.items():
        if key in parsed.literal:
            values[key] = raw
            continue

        def expand(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name, values.get(name))
            return found if found else (default or "")

        values[key] = _REFERENCE.sub(expand, raw)
    return values


def environment(project_root: Path | None = None) -> dict[str, str]:
    """Every variable a tool run from this checkout sees: `.env` under the environment."""
    values = read_env_file(project_root / ENV_FILE) if project_root is not None else {}
    values.update(os.environ)
    return values


def source(name: str, project_root: Path | None = None) -> str:
    """Where `name` is set, for messages: `the environment`, `.env:3`, or `nowhere`."""
    if name in os.environ:
        return "the environment"
    if project_root is not None:
        line = dotenv.read(project_root / ENV_FILE).lines.get(name)
        if line is not None:
            return f"{ENV_FILE}:{line}"
    return "nowhere"


def setting(name: str, project_root: Path | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None and project_root is not None:
        value = read_env_file(project_root / ENV_FILE).get(name)
    return value or None


def _invalid(name: str, value: str, project_root: Path | None, problem: str, fix: str) -> UserError:
    where = source(name, project_root)
    if where.startswith(ENV_FILE):
        line = int(where.split(":", 1)[1])
        return ConfigError(ENV_FILE, line, name, f"{value!r} {problem}", fix)
    return UserError(f"{name}={value!r} (in the environment) {problem} — {fix}")


# A registry is HOST[:PORT][/PREFIX], as the first part of a Docker image reference.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = re.compile(
    rf"^(?P<host>{_HOST})(?::(?P<port>[0-9]+))?"
    rf"(?P<prefix>(?:/{_PATH_COMPONENT})*)$"
)
REGISTRY_FORMAT = "HOST[:PORT][/PREFIX], e.g. 127.0.0.1:5000/team or registry.example.com/team"


def registry_problem(value: str) -> str | None:
    """Why `value` is not a registry prefix Docker can use, or None when it is one."""
    text = value.strip().rstrip("/")
    if "://" in text:
        return f"has a scheme: leave it out ({text.split('://', 1)[1] or 'HOST'})"
    match = _REGISTRY.match(text)
    host_part, slash, prefix = text.partition("/")
    if not match and _REGISTRY.match(host_part + slash + prefix.lower()):
        return "has upper-case letters after the host: image repositories are lower-case"
    if not match:
        return f"is not {REGISTRY_FORMAT}"
    host, port = match.group("host"), match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return f"has port {port}, outside 1-65535"
    if port is None and "." not in host and host != "localhost" and not host.startswith("["):
        return (
            f"has no registry host: Docker would read {host!r} as a Docker Hub namespace "
            f"— write {REGISTRY_FORMAT}"
        )
    return None


def registry(project_root: Path | None = None) -> str | None:
    """The shared image registry prefix, e.g. `127.0.0.1:5000/team`, without a trailing slash.
    A value that is not HOST[:PORT][/PREFIX] is a UserError naming where it is set."""
    value = setting(REGISTRY, project_root)
    if not value:
        return None
    problem = registry_problem(value)
    if problem:
        raise _invalid(
            REGISTRY, value, project_root, problem, "correct it, or remove it to build locally"
        )
    return value.strip().rstrip("/")


def dbt_target(project_root: Path | None = None) -> str:
    """The dbt target of every build: `duckdb` (default) or `postgres`."""
    chosen = setting(DBT_TARGET, project_root) or "duckdb"
    if chosen not in DBT_TARGETS:
        raise _invalid(
            DBT_TARGET,
            chosen,
            project_root,
            "is not a dbt target here",
            f"use one of {', '.join(DBT_TARGETS)}",
        )
    return chosen


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def strict(project_root: Path | None = None, override: str | None = None) -> bool:
    """Whether a missing engine is an error: under CI, with DATAPLATFORM_STRICT, or `strict=1`."""
    if override is not None:
        return is_true(override)
    return is_true(os.environ.get("CI")) or is_true(setting(STRICT, project_root))


def envs_dir(project_root: Path, default: Path) -> Path:
    value = setting(ENVS_DIR, project_root)
    return Path(value).expanduser().resolve() if value else default
