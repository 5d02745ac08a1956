"""Render a pipeline template with cookiecutter into a folder: the one place `create-pipeline`
and `pipelines.update` call cookiecutter, so both report a broken template the same way.

cookiecutter's own `generate_context`/`generate_files` are used directly: they never prompt and,
unlike its `cookiecutter()` entry point, write nothing into the user's home (no replay file).
"""

from __future__ import annotations

from pathlib import Path

from cookiecutter.exceptions import CookiecutterException
from cookiecutter.generate import generate_context, generate_files
from jinja2 import TemplateError

from dataplatform.errors import UserError
from dataplatform.scaffold import templates


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def render(
    template_dir: Path, template: str, values: dict[str, str], into: Path, nothing: str
) -> Path:
    """Render `template_dir` (template `template`, its context file already checked with
    `templates.check_context`) with `values` into `into`; the rendered top folder. A broken
    template is a UserError ending in `nothing` ("nothing was created")."""
    shown = f"{templates.TEMPLATES_DIR}/{template}"
    try:
        context = generate_context(
            context_file=str(template_dir / templates.CONTEXT_FILE), extra_context=values
        )
    except CookiecutterException as exc:
        raise UserError(
            f"{shown}/{templates.CONTEXT_FILE}: {_reason(exc)} — fix the file; {nothing}"
        ) from None
    try:
        return Path(
            generate_files(
                repo_dir=str(template_dir),
                context=context,
                output_dir=str(into),
                accept_hooks=False,
            )
        )
    except (CookiecutterException, TemplateError, OSError) as exc:
        raise failed(template, exc, nothing) from None


def failed(template: str, exc: BaseException, nothing: str) -> UserError:
    """The error for a template that did not render (or whose output could not be placed)."""
    return UserError(
        f"template {template!r} failed to render ({_reason(exc)}) — fix "
        f"{templates.TEMPLATES_DIR}/{template}; {nothing}"
    )
