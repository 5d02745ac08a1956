"""Create a pipeline from a template: validate, render into a temporary folder, then move it
into place in one step, so a failure never leaves a partial `pipelines/<name>/` behind.
Rendering itself is `scaffold.render`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dataplatform.errors import UserError
from dataplatform.project import Project
from dataplatform.scaffold import templates
from dataplatform.scaffold.names import check_pipeline_name
from dataplatform.scaffold.render import failed, render

NOTHING = "nothing was created"


@dataclass(frozen=True)
class Created:
    name: str
    directory: Path
    template: str
    fingerprint: str
    uncommitted: tuple[str, ...] = ()  # template files that differ from git's HEAD


def create_pipeline(
    project: Project, name: str, template: str = "dbt", description: str = "", owner: str = ""
) -> Created:
    check_pipeline_name(name)
    target = project.pipelines_dir / name
    if target.exists():
        raise UserError(f"pipelines/{name} already exists — choose another name or remove it")
    source = templates.template_dir(project, template)
    templates.check_context(source, f"{templates.TEMPLATES_DIR}/{template}")
    fingerprint = templates.fingerprint(source)
    values = {
        "pipeline_name": name,
        "description": description,
        "owner": owner,
        "_template_name": template,
        "_template_fingerprint": fingerprint,
    }
    project.pipelines_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=project.pipelines_dir))
    try:
        rendered = render(source, template, values, staging, NOTHING)
        if rendered.name != name:
            raise UserError(
                f"template {template!r} rendered {rendered.name!r}, not {name!r} — "
                "its top folder must be {{cookiecutter.pipeline_name}}"
            )
        try:
            os.rename(rendered, target)  # atomic within pipelines/
        except OSError as exc:
            raise failed(template, exc, NOTHING) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Created(
        name, target, template, fingerprint, tuple(templates.uncommitted(project, source))
    )
