"""Render a pipeline's orchestration into `pipelines/<p>/generated/orchestration/`: the Airflow
DAG (astronomer-cosmos over the dbt manifest, one task per model) or the Dagster definitions
(dagster-dbt over the same manifest), the manifest itself and a dbt profile that reads every
connection value from the environment. Only files whose content changed are rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2

from dataplatform import generated
from dataplatform.dbt import layout as dbt_layout
from dataplatform.dbt import runner as dbt_runner
from dataplatform.errors import UserError
from dataplatform.orchestration import layout
from dataplatform.orchestration.spec import Orchestration
from dataplatform.project import Project
from dataplatform.warehouse import layout as warehouse_layout

# Dagster schedules take cron expressions; Airflow's presets are spelled out.
PRESET_CRON = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def cron_of(schedule: str | None) -> str | None:
    """The cron form of a schedule (None for unscheduled or run-once)."""
    if schedule is None or schedule in ("@once", "@continuous"):
        return None
    return PRESET_CRON.get(schedule, schedule)


def _bash(command: str) -> str:
    # Airflow reads a bash_command ending in .sh/.bash as a template file; a space stops that.
    return command + " " if command.rstrip().endswith((".sh", ".bash")) else command


def _environment(project: Project) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(project.root / layout.TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.globals["bash"] = _bash
    return env


def render(
    project: Project, pipeline: str, description: str, spec: Orchestration, has_cdc: bool
) -> dict[str, str]:
    """The generated files (relative path → text) of one pipeline."""
    pipeline_dir = project.pipelines_dir / pipeline
    resolved = layout.plan(pipeline_dir, spec, has_cdc)
    files: dict[str, str] = {}
    context = {
        "pipeline": pipeline,
        "description": description,
        "spec": spec,
        "dbt": resolved.dbt,
        "ddl": resolved.ddl,
        "ddl_dir": warehouse_layout.OUTPUT.as_posix(),
        "manifest_name": layout.MANIFEST_NAME,
        "profiles_name": layout.PROFILES_NAME,
        "target_env": dbt_runner.TARGET_ENV,
        "shared_macros_env": dbt_layout.SHARED_MACROS_ENV,
        "shared_macros": dbt_layout.SHARED_MACROS.as_posix(),
        "schedule": cron_of(spec.schedule),
    }
    if resolved.dbt:
        manifest = dbt_layout.manifest(pipeline_dir)
        try:
            files[layout.MANIFEST_NAME] = manifest.read_text(encoding="utf-8")
        except OSError:
            raise UserError(
                f"pipelines/{pipeline}: no dbt manifest at "
                f"{project.relative(manifest)} — run `doit dbt-manifest:{pipeline}`"
            ) from None
        context["profile_name"] = dbt_runner.profile_name(pipeline_dir)
        context["project_name"] = _project_name(files[layout.MANIFEST_NAME], pipeline)
        files[layout.PROFILES_NAME] = dbt_runner.profiles_text(
            pipeline_dir, "{{ env_var('DATAPLATFORM_WAREHOUSE_DIR') }}/" + f"{pipeline}.duckdb"
        )
    template = "airflow_dag.py.j2" if spec.engine == "airflow" else "dagster_definitions.py.j2"
    name = layout.dag_file_name(pipeline) if spec.engine == "airflow" else layout.DAGSTER_MODULE
    files[name] = _environment(project).get_template(template).render(context)
    return files


def _project_name(manifest_text: str, fallback: str) -> str:
    try:
        return json.loads(manifest_text)["metadata"]["project_name"]
    except (ValueError, KeyError, TypeError):
        return fallback


def generate(
    project: Project,
    pipeline: str,
    description: str,
    spec: Orchestration,
    has_cdc: bool,
    inputs: list[Path],
) -> generated.SyncResult:
    files = render(project, pipeline, description, spec, has_cdc)
    digests = {project.relative(p): generated.file_digest(p) for p in inputs if p.exists()}
    return generated.sync(
        layout.output_dir(project.pipelines_dir / pipeline), files, digests, layout.GENERATOR
    )
