"""The checkout's `.env`, written: completed from `templates/env.template` with generated
secrets, with mode 0600. Existing values are never overwritten, and no value is ever printed.
Reading lives in `dataplatform.dotenv`."""

from __future__ import annotations

import base64
import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from dataplatform.dotenv import LINE, EnvFile, parse, read
from dataplatform.errors import UserError
from dataplatform.fsutil import write_atomic
from dataplatform.project import ENV_FILE

__all__ = [
    "EnvFile",
    "ensure",
    "generate",
    "generated_kinds",
    "parse",
    "placeholder_keys",
    "read",
    "secret_problem",
    "set_value",
]

TEMPLATE = Path("templates/env.template")
_GENERATE = re.compile(r"^<generate:([a-z-]+)>$")
MIN_SECRET_LENGTH = 12
# Values every scanner tries first: a secret equal to one of these is as good as none.
WELL_KNOWN = {
    "postgres",
    "password",
    "passw0rd",
    "admin",
    "administrator",
    "root",
    "secret",
    "changeme",
    "change-me",
    "minioadmin",
    "airflow",
    "dagster",
    "letmein",
    "test",
    "123456",
    "12345678",
    "qwerty",
    "default",
}


def generate(kind: str) -> str:
    if kind == "password":
        return secrets.token_urlsafe(24)
    if kind == "fernet":  # what cryptography.fernet.Fernet.generate_key() returns
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    if kind == "secret":
        return secrets.token_hex(32)
    if kind == "access-key":
        alphabet = string.ascii_uppercase + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(20))
    raise UserError(
        f"{TEMPLATE}: unknown generator <generate:{kind}> — use password, fernet, "
        "secret or access-key"
    )


def secret_problem(kind: str, value: str, user: str | None = None) -> str | None:
    """Why `value` is not an acceptable secret of `kind` (a `<generate:kind>`), or None."""
    if kind == "fernet":
        try:
            key = base64.b64decode(value.encode(), altchars=b"-_", validate=True)
        except (ValueError, TypeError):
            key = b""
        if len(key) != 32:
            return "not a Fernet key (32 url-safe base64-encoded bytes)"
        return None
    if value.lower() in WELL_KNOWN or (user and value.lower() == user.lower()):
        return "a well-known default"
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    return None


def template_entries(root: Path) -> list[tuple[str, str]]:
    """(key, template value) in template order; `<generate:…>` values left as they are."""
    text = (root / TEMPLATE).read_text(encoding="utf-8")
    parsed = parse(text)
    if parsed.malformed:
        number, problem = parsed.malformed[0]
        raise UserError(f"{TEMPLATE}:{number}: {problem}")
    return list(parsed.values.items())


def generated_kinds(root: Path) -> dict[str, str]:
    """key → generator kind, for every `<generate:…>` key of the template."""
    return {
        key: match.group(1)
        for key, value in template_entries(root)
        if (match := _GENERATE.match(value))
    }


def placeholder_keys(root: Path) -> set[str]:
    return set(generated_kinds(root))


@dataclass
class EnsureResult:
    created: bool
    added: list[str]


def ensure(root: Path, extra: dict[str, str] | None = None) -> EnsureResult:
    """Create or complete `.env`: add missing keys only (secrets generated), mode 0600.

    A malformed existing file is reported with its line and left untouched."""
    path = root / ENV_FILE
    existed = path.exists()
    current_text = path.read_text(encoding="utf-8") if existed else ""
    current = parse(current_text)
    if current.malformed:
        number, problem = current.malformed[0]
        raise UserError(
            f".env:{number}: {problem} — fix or remove that line; .env was left as it is"
        )
    additions: list[str] = []
    lines: list[str] = []
    for key, value in [*template_entries(root), *(extra or {}).items()]:
        if key in current.values or key in additions:
            continue
        match = _GENERATE.match(value)
        lines.append(f"{key}={generate(match.group(1)) if match else value}")
        additions.append(key)
    if additions or not existed:
        header = (
            ""
            if existed
            else (root / TEMPLATE).read_text(encoding="utf-8").split("\n\n", 1)[0] + "\n\n"
        )
        body = current_text
        if body and not body.endswith("\n"):
            body += "\n"
        text = header + body + "".join(f"{line}\n" for line in lines)
        write_atomic(path, text, mode=0o600)
    if path.exists():
        path.chmod(0o600)
    return EnsureResult(created=not existed, added=additions)


def set_value(root: Path, key: str, value: str) -> None:
    """Set one key (replacing its line, or appending it), keeping everything else as it is."""
    path = root / ENV_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for index, line in enumerate(lines):
        match = LINE.match(line)
        if match and match.group(1) == key:
            lines[index] = f"{key}={value}"
            break
    else:
        lines.append(f"{key}={value}")
    write_atomic(path, "\n".join(lines) + "\n", mode=0o600)
