"""What every invoke command shares: finding the project, turning UserErrors into one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from invoke.exceptions import Exit
from rich.console import Console

from dataplatform.errors import UserError

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def one_line_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body; a UserError becomes `✗ message` on stderr and exit code 1."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UserError as exc:
            errors.print(f"✗ {exc}", markup=False, soft_wrap=True)
            raise Exit(code=1) from None
        except Exception as exc:
            if not type(exc).__module__.startswith("docker."):
                raise
            detail = getattr(exc, "explanation", None) or str(exc)
            errors.print(f"✗ Docker engine error: {detail}", markup=False, soft_wrap=True)
            raise Exit(code=1) from None

    return wrapper


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def human_age(seconds: float) -> str:
    for limit, divisor, unit in ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h")):
        if seconds < limit:
            return f"{int(seconds // divisor)}{unit}"
    return f"{int(seconds // 86400)}d"
