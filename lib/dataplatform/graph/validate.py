"""Every config file of the repository checked at once, every problem listed.

The loaders the build uses do the checking (they raise ConfigError at a file's first problem),
so `validate` says exactly what `doit` would; it runs each one separately, so a broken file
does not hide the problems of the others: services.yaml, the orchestration settings, each
source group, each pipeline.yaml, each pipeline's CDC config and warehouse tables, each
pipeline template's cookiecutter.json, and the cross-file rules of the catalog. No engine,
no dbt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataplatform.errors import ConfigError, UserError
from dataplatform.project import Project


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str  # the loader's one line, "file:line: key: problem — fix"

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


_WHERE = re.compile(r"^(?P<file>[^:\s]+(?:\.[A-Za-z0-9]+)?)(?::(?P<line>\d+))?:")


def _problem(exc: UserError) -> Problem:
    if isinstance(exc, ConfigError):
        return Problem(exc.file, exc.line, str(exc))
    text = str(exc)
    where = _WHERE.match(text)
    if where:
        return Problem(where["file"], int(where["line"]) if where["line"] else None, text)
    return Problem("", None, text)


class _Collector:
    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}  # message → problem: one error said once

    def add(self, exc: UserError) -> None:
        problem = _problem(exc)
        self.problems.setdefault(problem.message, problem)

    def attempt(self, check: Callable[[], Any]) -> Any:
        try:
            return check()
        except UserError as exc:
            self.add(exc)
            return None


def validate(project: Project) -> list[Problem]:
    from dataplatform.cdc import layout as cdc_layout
    from dataplatform.cdc import loader as cdc_loader
    from dataplatform.config.yamlsource import load_yaml
    from dataplatform.orchestration.spec import load_settings
    from dataplatform.pipelines.manifest import load_pipeline, pipeline_dirs
    from dataplatform.scaffold import templates
    from dataplatform.services.manifest import load_services
    from dataplatform.warehouse import generate as warehouse_generate
    from dataplatform.warehouse import layout as warehouse_layout

    found = _Collector()
    found.attempt(lambda: load_services(project))
    settings = found.attempt(lambda: load_settings(project))
    groups = cdc_loader.load_source_groups(project)
    for problem in groups.all_problems():
        found.add(problem)
    for directory in pipeline_dirs(project):
        pipeline = found.attempt(lambda d=directory: load_pipeline(project, d, settings))
        if pipeline is None:
            continue
        source = found.attempt(
            lambda p=pipeline: cdc_layout.find_source(p.directory, p.has_cdc_section)
        )
        if source is not None:  # what cdc.generate.load does, with the groups read once
            found.attempt(
                lambda s=source: cdc_loader.parse_pipeline(
                    load_yaml(s.file, project.relative(s.file)), s.keypath, s.pipeline, groups
                )
            )
        if warehouse_layout.declares_tables(directory, pipeline.has_warehouse_section):
            inputs = found.attempt(
                lambda p=pipeline: warehouse_layout.inputs_of(
                    p.directory, p.has_warehouse_section, p.has_cdc_section
                )
            )
            if inputs is not None:
                found.attempt(lambda i=inputs: warehouse_generate.build(project, i))
    for name in templates.available(project):
        directory = templates.template_dir(project, name)
        found.attempt(lambda d=directory: templates.check_context(d, project.relative(d)))
    if not found.problems:
        from dataplatform.catalog import load_catalog

        found.attempt(lambda: load_catalog(project))  # rules across files (image names, locks)
    return sorted(found.problems.values(), key=lambda p: (p.file, p.line or 0, p.message))
