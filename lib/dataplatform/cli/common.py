"""What every invoke command shares: how a command is declared (`command`), typed numeric
options (`seconds`, `count`), one-line errors, and the rich consoles commands print through.

Every command of the toolkit is made with `command(...)`, so what holds for one holds for all:
- every parameter has help text (checked when the module is imported);
- `invoke CMD --help` prints the command's help even when CMD takes a positional argument.
  invoke 3.0 hands `--help` given where a positional is still missing to the task as that
  argument's value (upstream pyinvoke/invoke#982); the command recognises it before its body runs,
  so nothing is contacted or changed;
- numeric options are parsed by invoke through their own type, so `--timeout abc` is one line,
  found while parsing, before any command runs;
- a UserError (or a Docker engine error) becomes `✗ message` on stderr and exit code 1.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke import Program, Task, task
from invoke.exceptions import Exit, ParseError
from rich.console import Console

from dataplatform.errors import as_user_error

HELP_TOKENS = ("--help", "-h")
# Piped or CI output: wide enough that no line or table of ours is ever wrapped or cut.
UNBOUNDED_WIDTH = 100_000


def _console(stderr: bool = False) -> Console:
    """Fitted to a terminal; to a pipe, file or CI log, whole lines: never wrapped or truncated
    at an assumed 80 columns (rich's default when there is no terminal to measure)."""
    made = Console(stderr=stderr, highlight=False)
    if not made.is_terminal:
        made.width = UNBOUNDED_WIDTH
        made.soft_wrap = True
    return made


console = _console()
errors = _console(stderr=True)


def one_line_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body; a user's error (`errors.as_user_error`: a UserError, or an error the
    Docker engine answered) becomes `✗ message` on stderr and exit code 1."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            user_error = as_user_error(exc)
            if user_error is None:
                raise
            errors.print(f"✗ {user_error}", markup=False, soft_wrap=True)
            raise Exit(code=1) from None

    return wrapper


# --- typed numeric options ---------------------------------------------------------------------


class _Number:
    """Mixin of the numeric option types. invoke takes an option's type from its default and
    casts the command-line text through it while parsing; a ParseError raised here is printed
    by invoke as one line with exit code 1, before any command runs."""

    flag: str = ""
    what: str = ""
    example: str = ""
    minimum: float = 0
    inclusive: bool = True
    metavar: str = ""

    def __new__(cls, value: Any) -> Any:
        base = cls.__mro__[2]  # float or int
        try:
            number = base(value.strip()) if isinstance(value, str) else base(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ParseError(
                f"✗ {cls.flag}: {value!r} is not {cls.what} — e.g. {cls.flag} {cls.example}"
            )
        if not (number >= cls.minimum if cls.inclusive else number > cls.minimum):
            bound = "at least" if cls.inclusive else "more than"
            raise ParseError(
                f"✗ {cls.flag}: {value!r} must be {bound} {cls.minimum:g} — e.g. "
                f"{cls.flag} {cls.example}"
            )
        return base.__new__(cls, number)

    def __repr__(self) -> str:
        return f"{self:g}" if isinstance(self, float) else str(int(self))  # type: ignore[arg-type]

    __str__ = __repr__


def _option_type(base: type, flag: str, **fields: Any) -> type:
    name = "".join(part.title() for part in flag.strip("-").split("-")) + base.__name__.title()
    return type(name, (_Number, base), {"flag": flag, **fields})


def seconds(flag: str, default: float) -> float:
    """Default of an option taking seconds (> 0): `timeout=seconds("--timeout", 300)`."""
    kind = _option_type(
        float,
        flag,
        what="a number of seconds",
        example="120",
        minimum=0,
        inclusive=False,
        metavar="SECONDS",
    )
    return kind(default)


def count(flag: str, default: int, what: str = "lines") -> int:
    """Default of an option taking a whole number ≥ 0: `tail=count("--tail", 100)`."""
    kind = _option_type(
        int, flag, what=f"a whole number of {what}", example="50", minimum=0, metavar="N"
    )
    return kind(default)


# --- declaring a command -----------------------------------------------------------------------


class _Command(Task):
    """A Task whose help texts survive building its parser context more than once (invoke's Task
    consumes its `help` dict the first time; a second Program in the process saw none)."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list:
        kept = dict(self.help)
        try:
            return super().get_arguments(ignore_unknown_help)
        finally:
            self.help = kept


def _binary() -> str:
    called = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return called if called in ("inv", "invoke") else "invoke"


def print_help(made: Task) -> None:
    """Print `invoke --help NAME` for a command of the toolkit's namespace, in-process."""
    from dataplatform.cli.namespace import build_namespace

    namespace = build_namespace()
    name = next(n for n in namespace.task_names if namespace[n] is made)
    Program(namespace=namespace, binary=_binary()).run([_binary(), "--help", name], exit=False)


def command(
    name: str, help: dict[str, str] | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Task]:
    """Declare an invoke command (use instead of `@task` + `@one_line_errors`).

    `help` must describe every parameter (positional ones too); a numeric option made with
    `seconds`/`count` gets its value form and default appended to its help text.
    """
    texts = dict(help or {})

    def decorate(function: Callable[..., Any]) -> Task:
        if not inspect.getdoc(function):
            raise TypeError(f"command {name}: a docstring is its --help description")
        parameters = list(inspect.signature(function).parameters.values())[1:]
        undocumented = [
            p.name
            for p in parameters
            if p.name not in texts and p.name.replace("_", "-") not in texts
        ]
        if undocumented:
            raise TypeError(f"command {name}: no help text for {', '.join(undocumented)}")
        for parameter in parameters:
            if isinstance(parameter.default, _Number):
                key = (
                    parameter.name if parameter.name in texts else parameter.name.replace("_", "-")
                )
                texts[key] += f" ({parameter.default.metavar}; default {parameter.default})"
        body = one_line_errors(function)

        @functools.wraps(function)
        def run(c: Any, *args: Any, **kwargs: Any) -> Any:
            given = [*args, *kwargs.values()]
            given += [item for value in given if isinstance(value, list) for item in value]
            if any(isinstance(value, str) and value in HELP_TOKENS for value in given):
                print_help(made)
                return None
            return body(c, *args, **kwargs)

        made = task(name=name, help=texts, klass=_Command, **options)(run)
        return made

    return decorate


# --- formatting --------------------------------------------------------------------------------


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def human_age(elapsed: float) -> str:
    for limit, divisor, unit in ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h")):
        if elapsed < limit:
            return f"{int(elapsed // divisor)}{unit}"
    return f"{int(elapsed // 86400)}d"
