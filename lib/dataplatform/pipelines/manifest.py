"""Discover pipelines and load their manifests.

Every folder under `pipelines/` with a `pipeline.yaml` is a pipeline — no registry to keep in
sync. `shared/` and folders starting with `_` (templates) are never pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataplatform.config.validate import check_keys, expect, optional
from dataplatform.config.yamlsource import load_yaml
from dataplatform.errors import ConfigError
from dataplatform.images.spec import ImageSpec, parse_build
from dataplatform.orchestration.spec import (
    Orchestration,
    Settings,
    load_settings,
    parse_orchestration,
)
from dataplatform.project import PIPELINE_FILE, Project
from dataplatform.scaffold import conflicts
from dataplatform.scaffold.names import pipeline_name_problem

MANIFEST = PIPELINE_FILE
KEYS = ("name", "description", "owner", "template", "images", "cdc", "orchestration", "warehouse")
TEMPLATE_KEYS = ("name", "fingerprint")


@dataclass(frozen=True)
class Pipeline:
    name: str
    directory: Path
    description: str
    owner: str
    images: tuple[ImageSpec, ...]
    has_cdc_section: bool = False  # `cdc:` in pipeline.yaml (validated by the cdc generator)
    # `warehouse:` in pipeline.yaml (validated by the warehouse generator)
    has_warehouse_section: bool = False
    template: str | None = None  # the template it was created from
    template_fingerprint: str | None = None  # that template's fingerprint at creation
    orchestration: Orchestration | None = None  # `orchestration:` in pipeline.yaml


def pipeline_dirs(project: Project) -> list[Path]:
    root = project.pipelines_dir
    if not root.is_dir():
        return []
    return sorted(
        child
        for child in root.iterdir()
        if child.is_dir()
        and not child.name.startswith(("_", "."))
        and child.name != "shared"
        and (child / MANIFEST).is_file()
    )


def load_pipeline(project: Project, directory: Path, settings: Settings | None = None) -> Pipeline:
    path = directory / MANIFEST
    marker = conflicts.first_marker(path)
    if marker is not None:  # else a YAML syntax error would hide the cause
        raise ConfigError(
            project.relative(path),
            marker,
            "",
            "unresolved merge conflict marker",
            "keep the lines you want, delete the <<<<<<< ======= >>>>>>> lines",
        )
    doc = load_yaml(path, project.relative(path))
    data = doc.data if doc.data is not None else {}
    expect(doc, (), data, dict, "a pipeline manifest is a mapping of name, description, ...")
    check_keys(doc, (), data, KEYS)
    name = optional(doc, (), data, "name", str, directory.name)
    if name != directory.name:
        raise doc.error(
            ("name",),
            f"{name!r} differs from the folder name {directory.name!r}",
            "rename one so they match",
        )
    problem = pipeline_name_problem(name)
    if problem:
        raise doc.error(
            ("name",),
            f"pipeline name {problem}",
            "it also names the pipeline's "
            "dbt project, DuckDB catalog and PostgreSQL schema: rename the folder "
            "and this name",
        )
    template = optional(doc, (), data, "template", dict, {})
    check_keys(doc, ("template",), template, TEMPLATE_KEYS)
    template_name = optional(doc, ("template",), template, "name", str, None)
    template_fingerprint = optional(doc, ("template",), template, "fingerprint", str, None)
    images = []
    for image_name, body in optional(doc, (), data, "images", dict, {}).items():
        full_name = f"{name}-{image_name}".replace("_", "-")
        images.append(parse_build(doc, ("images", str(image_name)), body, full_name, directory))
    owner = optional(doc, (), data, "owner", str, "")
    orchestration = None
    if "orchestration" in data:
        orchestration = parse_orchestration(
            doc,
            ("orchestration",),
            data["orchestration"],
            settings or load_settings(project),
            name,
            owner,
        )
    return Pipeline(
        name=name,
        directory=directory,
        description=optional(doc, (), data, "description", str, ""),
        owner=owner,
        images=tuple(images),
        has_cdc_section="cdc" in data,
        has_warehouse_section="warehouse" in data,
        template=template_name,
        template_fingerprint=template_fingerprint,
        orchestration=orchestration,
    )


def load_pipelines(project: Project, settings: Settings | None = None) -> list[Pipeline]:
    settings = settings or load_settings(project)
    return [load_pipeline(project, d, settings) for d in pipeline_dirs(project)]
