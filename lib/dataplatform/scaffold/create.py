"""Create a pipeline from a template: validate, render into a temporary folder, then move it
into place in one step, so a failure never leaves a partial `pipelines/<name>/` behind.

cookiecutter's own `generate_context`/`generate_files` are used directly: they never prompt and,
unlike its `cookiecutter()` entry point, write nothing into the user's home (no replay file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cookiecutter.exceptions import CookiecutterException
from cookiecutter.generate import generate_context, generate_files
from jinja2 import TemplateError

from dataplatform.errors import UserError
from dataplatform.project import Project
from dataplatform.scaffold import templates
from dataplatform.scaffold.names import check_pipeline_name


@dataclass(frozen=True)
class Created:
    name: str
    directory: Path
    template: str
    fingerprint: str
    uncommitted: tuple[str, ...] = ()  # template files that differ from git's HEAD


def create_pipeline(project: Project, name: str, template: str = "dbt", description: str = "",
                    owner: str = "") -> Created:
    check_pipeline_name(name)
    target = project.pipelines_dir / name
    if target.exists():
        raise UserError(f"pipelines/{name} already exists — choose another name or remove it")
    source = templates.template_dir(project, template)
    templates.check_context(source, f"{templates.TEMPLATES_DIR}/{template}")
    fingerprint = templates.fingerprint(source)
    try:
        context = generate_context(
            context_file=str(source / templates.CONTEXT_FILE),
            extra_context={"pipeline_name": name, "description": description, "owner": owner,
                           "_template_name": template, "_template_fingerprint": fingerprint},
        )
    except CookiecutterException as exc:
        raise UserError(f"{templates.TEMPLATES_DIR}/{template}/{templates.CONTEXT_FILE}: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__} — "
                        "fix the file; nothing was created") from None
    project.pipelines_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=project.pipelines_dir))
    try:
        rendered = Path(generate_files(repo_dir=str(source), context=context,
                                       output_dir=str(staging), accept_hooks=False))
        if rendered.name != name:
            raise UserError(f"template {template!r} rendered {rendered.name!r}, not {name!r} — "
                            "its top folder must be {{cookiecutter.pipeline_name}}")
        os.rename(rendered, target)  # atomic within pipelines/
    except (CookiecutterException, TemplateError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"template {template!r} failed to render ({reason}) — fix "
                        f"{templates.TEMPLATES_DIR}/{template}; nothing was created") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Created(name, target, template, fingerprint,
                   tuple(templates.uncommitted(project, source)))
