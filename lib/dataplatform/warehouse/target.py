"""Which PostgreSQL `invoke db.plan` / `db.deploy` talk to, and how it is shown.

The target is `--dsn` when given, else the platform's warehouse from the settings (through
`dataplatform.settings`: the environment, then `.env`): `CDC_POSTGRES_DSN` — where the CDC
sinks write — or, when that is unset, a connection made of `POSTGRES_HOST`, `POSTGRES_PORT`,
`POSTGRES_USER`, `POSTGRES_PASSWORD` and `POSTGRES_DB` (what the orchestrator containers set).
`.env` describes the local platform, so it is the `dev` target only: for another environment
the DSN comes from `--dsn` or the process environment (e.g. a CI job's secret).

A DSN carries a password: nothing here ever shows one. `Target.shown` is the DSN with the
password masked, and `Target.redact` masks it in any text (a driver's error message included).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from dataplatform import settings
from dataplatform.cdc.model import ENVIRONMENTS
from dataplatform.config.validate import suggestion
from dataplatform.errors import UserError

DSN_SETTING = "CDC_POSTGRES_DSN"
PART_SETTINGS = (
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
)
DEFAULT_ENV = "dev"
MASK = "***"
# conninfo `password=value` or `password='quoted value'`
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_URL_USERINFO = re.compile(r"^[a-z0-9+.-]+://[^:@/]*:(.*)@[^@]*$", re.I | re.S)
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.I)


@dataclass(frozen=True)
class Target:
    """A database to deploy to: `dsn` is secret; `source` says where it came from."""

    dsn: str
    source: str
    env: str = DEFAULT_ENV

    @property
    def password(self) -> str | None:
        return password_of(self.dsn)

    @property
    def shown(self) -> str:
        return self.redact(self.dsn)

    def redact(self, text: str) -> str:
        """`text` with this target's password (and any DSN password) masked."""
        return redact(text, self.password)


def password_of(dsn: str) -> str | None:
    if "://" in dsn:
        # by hand, not urlsplit: a password with an unencoded `/` or `#` must still be found
        match = _URL_USERINFO.match(dsn)
        if match and match.group(1):
            return urllib.parse.unquote(match.group(1))
        try:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(dsn).query)
        except ValueError:
            return None
        return (query.get("password") or [None])[0]
    match = _KV_PASSWORD.search(dsn)
    if not match:
        return None
    value = match.group(2)
    if value.startswith("'"):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return value or None


def redact(text: str, password: str | None = None) -> str:
    """Mask DSN passwords in `text`: in URLs, in `password=` pairs, and `password` itself
    wherever it occurs (also URL-encoded)."""
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
    text = _KV_PASSWORD.sub(rf"\g<1>{MASK}", text)
    if password:
        for form in {
            password,
            urllib.parse.quote(password, safe=""),
            urllib.parse.quote_plus(password),
        }:
            text = text.replace(form, MASK)
    return text


def check_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        near = suggestion(env, ENVIRONMENTS)
        hint = f"did you mean {near!r}? " if near else ""
        raise UserError(
            f"--env {env!r} is not an environment — {hint}use one of {', '.join(ENVIRONMENTS)}"
        )
    return env


def resolve(project_root: Path | None, dsn: str | None = None, env: str = DEFAULT_ENV) -> Target:
    """The target of a deploy to `env`: `dsn` when given, else from the settings."""
    env = check_env(env)
    if dsn:
        return Target(dsn, "--dsn", env)
    # `.env` is the local platform's: read it for `dev` only
    root = project_root if env == DEFAULT_ENV else None
    found = settings.setting(DSN_SETTING, root)
    if found:
        return Target(found, f"{DSN_SETTING} ({settings.source(DSN_SETTING, root)})", env)
    parts = {name: settings.setting(name, root) for name in PART_SETTINGS}
    if parts["POSTGRES_PASSWORD"] or parts["POSTGRES_HOST"]:
        from psycopg.conninfo import make_conninfo

        made = make_conninfo(
            host=parts["POSTGRES_HOST"] or "localhost",
            port=parts["POSTGRES_PORT"] or "5432",
            user=parts["POSTGRES_USER"] or "postgres",
            password=parts["POSTGRES_PASSWORD"],
            dbname=parts["POSTGRES_DB"] or "warehouse",
        )
        return Target(made, "POSTGRES_* settings", env)
    where = (
        "in .env or the environment" if root else "in the environment (.env is the dev platform's)"
    )
    raise UserError(
        f"no warehouse to talk to for --env {env}: neither {DSN_SETTING} nor "
        f"POSTGRES_PASSWORD is set {where} — run invoke setup, set {DSN_SETTING}, "
        "or pass --dsn postgres://USER@HOST:PORT/DB"
    )


def connect(target: Target):
    """A psycopg connection (not autocommit), or a UserError naming the target, redacted."""
    import psycopg

    try:
        return psycopg.connect(
            target.dsn, connect_timeout=10, application_name="dataplatform db.deploy"
        )
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise UserError(
            f"cannot connect to {target.shown} (from {target.source}): "
            f"{target.redact(reason)} — start the platform (invoke up) or pass "
            "--dsn"
        ) from None
    except Exception as exc:  # a malformed DSN
        raise UserError(
            f"cannot use the DSN from {target.source} ({target.shown}): "
            f"{target.redact(str(exc))} — write postgres://USER:PASSWORD@HOST:PORT/DB"
        ) from None
