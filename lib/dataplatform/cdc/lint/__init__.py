"""Lint Redpanda Connect configs against Redpanda Connect's own component specification.

Redpanda Connect cannot run here, so the generated CDC configs are checked against the facts
of its published specification, vendored in `redpanda_connect_spec.json` (`facts`: which
version, how it is refreshed). `config` walks a config (`Finding`s), `bloblang` parses its
Bloblang, `mssql_dsn` reads SQL Server DSNs like the driver, `environment` mirrors
`${VAR}` substitution. `invoke cdc.lint` lints every generated config; the CDC generator lints
what it renders before it writes anything (`refuse_findings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dataplatform.cdc.layout import OUTPUT, declares_cdc
from dataplatform.cdc.lint import facts
from dataplatform.cdc.lint.config import Finding
from dataplatform.cdc.lint.config import lint_text as _lint_text
from dataplatform.config.validate import suggestion
from dataplatform.errors import UserError
from dataplatform.pipelines.manifest import MANIFEST, pipeline_dirs
from dataplatform.project import Project

__all__ = [
    "Finding",
    "GeneratedConfigInvalid",
    "generated_configs",
    "lint_config",
    "lint_file",
    "lint_text",
    "refuse_findings",
    "version",
]


class GeneratedConfigInvalid(UserError):
    """Generated configs Redpanda Connect would reject: a bug of the generator, reported before
    anything is written."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        lines = "\n".join(str(f) for f in findings)
        super().__init__(
            f"{lines}\nthe generated Redpanda Connect config(s) above fail the lint "
            f"against Redpanda Connect {version()}: nothing was written — this is "
            "a bug of the CDC generator (dataplatform/cdc/connect.py), please "
            "report it with these lines"
        )


def version() -> str:
    """The Redpanda Connect version the vendored facts come from."""
    return facts.load().version


def lint_text(text: str, file: str) -> list[Finding]:
    """Findings of one config given as YAML text; `file` is how findings name it."""
    return _lint_text(text, file, facts.load())


def lint_config(config: Mapping[str, Any], file: str = "<config>") -> list[Finding]:
    """Findings of one config given as data (findings carry no line numbers)."""
    text = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    return _lint_text(text, file, facts.load(), with_lines=False)


def lint_file(path: Path, display: str | None = None) -> list[Finding]:
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(shown, "", None, f"cannot read: {exc}")]
    return lint_text(text, shown)


def refuse_findings(files: Mapping[str, str], where: str = "") -> None:
    """Raise GeneratedConfigInvalid when any of the rendered YAML configs (`name → text`;
    `where` is prefixed to each name) has a finding."""
    found = [
        f
        for name, text in sorted(files.items())
        if name.endswith((".yaml", ".yml"))
        for f in lint_text(text, f"{where}/{name}" if where else name)
    ]
    if found:
        raise GeneratedConfigInvalid(found)


def generated_configs(project: Project, pipeline: str | None = None) -> list[Path]:
    """The generated Redpanda Connect configs (`pipelines/<p>/generated/cdc/**.yaml`) of
    `pipeline`, or of every pipeline; a UserError when there is none to lint."""
    directories = {d.name: d for d in pipeline_dirs(project)}
    if pipeline is not None and pipeline not in directories:
        near = suggestion(pipeline, directories)
        hint = (
            f"did you mean {near!r}?" if near else f"pipelines: {', '.join(directories) or 'none'}"
        )
        raise UserError(f"--pipeline {pipeline!r}: no pipelines/{pipeline}/pipeline.yaml — {hint}")
    if pipeline is not None and not declares_cdc(
        directories[pipeline], _has_cdc_section(directories[pipeline])
    ):
        raise UserError(
            f"--pipeline {pipeline!r}: declares no CDC (no cdc: section in "
            f"pipelines/{pipeline}/pipeline.yaml, no config/cdc.yaml) — nothing to "
            "lint"
        )
    chosen = [directories[pipeline]] if pipeline is not None else list(directories.values())
    found = sorted(p for d in chosen for p in (d / OUTPUT).rglob("*.yaml") if p.is_file())
    if not found:
        where = f"pipelines/{pipeline}/{OUTPUT}" if pipeline else f"pipelines/*/{OUTPUT}"
        fix = f"run `doit cdc:{pipeline}` first" if pipeline else "run `doit` first"
        raise UserError(
            f"no generated CDC configs in {where} — {fix} (a pipeline without a "
            "cdc: section has none)"
        )
    return found


def _has_cdc_section(directory: Path) -> bool:
    try:
        data = yaml.safe_load((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # its own task reports a broken manifest
    return isinstance(data, dict) and "cdc" in data
