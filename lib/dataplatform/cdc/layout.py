"""Where CDC inputs and outputs live: cheap to import, for doit's task creation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataplatform.errors import UserError
from dataplatform.project import PIPELINE_FILE, Project

SOURCE_GROUPS = Path("platform/cdc/source-groups.yaml")
SEPARATE_FILE = Path("config/cdc.yaml")  # a pipeline's cdc section, outside pipeline.yaml
OUTPUT = Path("generated/cdc")
# Bump when the generator's code changes what it writes: every CDC pipeline regenerates.
# tests/test_cdc_golden.py fails ("bump GENERATOR") when the output changes without a bump.
GENERATOR = "dataplatform.cdc/6"


@dataclass(frozen=True)
class CdcSource:
    """Where a pipeline's `cdc:` section lives: `pipeline.yaml` or `config/cdc.yaml`."""

    pipeline: str
    file: Path
    keypath: tuple[str, ...]


def find_source(directory: Path, manifest_has_cdc: bool) -> CdcSource | None:
    separate = directory / SEPARATE_FILE
    if manifest_has_cdc and separate.exists():
        raise UserError(
            f"{directory.name}: both pipeline.yaml (cdc:) and config/cdc.yaml define "
            "CDC — keep one of them"
        )
    if manifest_has_cdc:
        return CdcSource(directory.name, directory / PIPELINE_FILE, ("cdc",))
    if separate.exists():
        return CdcSource(directory.name, separate, ())
    return None


def declares_cdc(directory: Path, manifest_has_cdc: bool) -> bool:
    """Whether a pipeline declares CDC tables, in either place (a stat, nothing read)."""
    return manifest_has_cdc or (directory / SEPARATE_FILE).exists()


def output_dir(project: Project, pipeline: str) -> Path:
    return project.pipelines_dir / pipeline / OUTPUT


def dbt_manifest(project: Project, pipeline: str) -> Path:
    """The manifest of the dbt staging files generated into the pipeline's dbt project."""
    return project.pipelines_dir / pipeline / "generated" / "dbt" / "manifest.json"
