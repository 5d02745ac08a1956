"""Where a pipeline's warehouse inputs and outputs live: cheap to import, for doit's task
creation and for the orchestration that applies the generated SQL.

Inputs: a `warehouse:` section in `pipeline.yaml` or `config/tables.yaml` (one of them), and
the pipeline's CDC tables (their replicas are warehouse tables too). Output: every object's SQL
in `pipelines/<p>/generated/warehouse/` with `objects.json` (the deployer's input).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataplatform.cdc import layout as cdc_layout
from dataplatform.cdc.naming import label
from dataplatform.project import PIPELINE_FILE, Project
from dataplatform.warehouse.objects import KIND_ORDER

SECTION = "warehouse"
SEPARATE_FILE = Path("config/tables.yaml")  # a pipeline's warehouse section, outside pipeline.yaml
OUTPUT = Path("generated/warehouse")
TEMPLATES = Path("templates/warehouse")
# Bump when the generator's code changes what it writes: every pipeline's warehouse regenerates.
GENERATOR = "dataplatform.warehouse/1"


@dataclass(frozen=True)
class TablesSource:
    """Where a pipeline's `warehouse:` section lives: `pipeline.yaml` or `config/tables.yaml`."""

    pipeline: str
    file: Path
    keypath: tuple[str, ...]


def find_source(directory: Path, manifest_has_section: bool) -> TablesSource | None:
    """The file declaring the pipeline's tables (None: it declares none). Both places at once
    is an error raised by `spec.load_source`, which can point at the line."""
    separate = directory / SEPARATE_FILE
    if manifest_has_section:
        return TablesSource(directory.name, directory / PIPELINE_FILE, (SECTION,))
    if separate.exists():
        return TablesSource(directory.name, separate, ())
    return None


def declares_tables(directory: Path, manifest_has_section: bool) -> bool:
    return manifest_has_section or (directory / SEPARATE_FILE).exists()


def has_warehouse(directory: Path, manifest_has_section: bool, manifest_has_cdc: bool) -> bool:
    """Whether the pipeline has warehouse objects at all: declared tables or CDC replicas
    (a stat, nothing read)."""
    return declares_tables(directory, manifest_has_section) or cdc_layout.declares_cdc(
        directory, manifest_has_cdc
    )


@dataclass(frozen=True)
class Inputs:
    """What a pipeline's warehouse is made from (cheap: no file read)."""

    pipeline: str
    tables: TablesSource | None
    cdc: cdc_layout.CdcSource | None

    def files(self, project: Project) -> list[Path]:
        files = [self.tables.file] if self.tables else []
        if self.cdc:
            files += [self.cdc.file, project.root / cdc_layout.SOURCE_GROUPS]
        directory = project.pipelines_dir / self.pipeline
        manifest = directory / PIPELINE_FILE
        if self.tables and self.tables.file != manifest:
            files.append(manifest)  # a `warehouse:` section there too is an error
        return list(dict.fromkeys(files))


def inputs_of(directory: Path, has_section: bool, has_cdc: bool) -> Inputs:
    """Raises `UserError` when the pipeline's CDC section is declared twice."""
    return Inputs(
        directory.name,
        find_source(directory, has_section),
        cdc_layout.find_source(directory, has_cdc),
    )


def output_dir(project: Project, pipeline: str) -> Path:
    return project.pipelines_dir / pipeline / OUTPUT


def templates(project: Project) -> list[Path]:
    return sorted((project.root / TEMPLATES).glob("*.j2"))


def object_file(kind: str, schema: str, name: str) -> str:
    """The file one object's SQL is written to: numbered by kind, so applying the files in
    name order creates schemas, then tables, then functions, then triggers."""
    rank = (KIND_ORDER.index(kind) + 1) * 10  # type: ignore[arg-type]
    what = label(name) if kind == "schema" else f"{label(schema)}.{label(name)}"
    return f"{rank}_{kind}_{what}.sql"
