"""`invoke db.plan` and `invoke db.deploy`: the pipelines' generated warehouse objects
(`pipelines/<p>/generated/warehouse/objects.json`, written by doit) against the warehouse
PostgreSQL. The logic lives in dataplatform.warehouse (target, observe, plan, deploy); this
module finds the pipelines, prints, and keeps every password out of what it prints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.markup import escape

from dataplatform.cli.common import command, console
from dataplatform.errors import UserError
from dataplatform.project import find_project

# The warehouse modules and rich's tables are imported by the commands that use them, so that
# every other invoke command starts without them.
if TYPE_CHECKING:
    from dataplatform.project import Project
    from dataplatform.warehouse import target as targets
    from dataplatform.warehouse.objects import PipelineObjects
    from dataplatform.warehouse.plan import Plan, Step

HELP = {
    "pipeline": "only this pipeline (default: every pipeline with generated warehouse objects)",
    "env": "the environment deployed to: dev (default; the target from .env), nonprod or prod "
    "(the target from --dsn or the process environment)",
    "dsn": "the PostgreSQL to talk to, postgres://USER:PASSWORD@HOST:PORT/DB (default: "
    "CDC_POSTGRES_DSN, else POSTGRES_HOST/PORT/USER/PASSWORD/DB)",
}


def desired_objects(project: Project, pipeline: str | None) -> list[PipelineObjects]:
    """The generated objects of `pipeline`, or of every pipeline that has them."""
    from dataplatform.config.validate import suggestion
    from dataplatform.pipelines.manifest import pipeline_dirs
    from dataplatform.warehouse import deploy as deployer

    directories = {d.name: d for d in pipeline_dirs(project)}
    if pipeline is not None:
        if pipeline not in directories:
            near = suggestion(pipeline, directories)
            hint = (
                f"did you mean {near!r}?"
                if near
                else f"pipelines: {', '.join(directories) or 'none'}"
            )
            raise UserError(
                f"--pipeline {pipeline!r}: no pipelines/{pipeline}/pipeline.yaml — {hint}"
            )
        return [deployer.load(directories[pipeline])]
    found = [deployer.load(d) for d in directories.values() if deployer.objects_file(d).is_file()]
    if not found:
        raise UserError(
            "no pipeline has generated warehouse objects (pipelines/<p>/generated/"
            "warehouse/objects.json) — run doit first"
        )
    return found


@contextmanager
def _session(
    project: Project, dsn: str | None, env: str
) -> Iterator[tuple[targets.Target, object]]:
    """A connection to the target; every error leaving it is one redacted line."""
    import psycopg

    from dataplatform.warehouse import target as targets

    chosen = targets.resolve(project.root, dsn, env)
    connection = None
    try:
        connection = targets.connect(chosen)
        console.print(
            f"target: {escape(chosen.shown)} (from {escape(chosen.source)}, env {chosen.env})"
        )
        yield chosen, connection
    except UserError as exc:
        raise UserError(chosen.redact(str(exc))) from None
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise UserError(f"{chosen.shown}: {chosen.redact(reason)}") from None
    finally:
        if connection is not None:
            connection.close()


def _change(step: Step, refused: bool = False) -> str:
    label = escape(step.action)
    if refused:
        return f"[red]destructive: {label}[/red]"
    if step.drift:
        return (
            f"[yellow]drift: {label}[/yellow]"
            if step.action != "drift"
            else "[yellow]drift[/yellow]"
        )
    if step.destructive:
        return f"[red]{label}[/red]"
    return label


@command(name="plan", help=HELP)
def plan_command(c, pipeline=None, env="dev", dsn=None):
    """Show what db.deploy would change on the warehouse PostgreSQL: new objects, added
    columns, changed types, changed functions and triggers, and drift (objects changed by hand
    since the last deploy). Changes nothing, not even the ledger."""
    from rich.table import Table

    from dataplatform.warehouse import deploy as deployer

    project = find_project()
    desired = desired_objects(project, pipeline)
    with _session(project, dsn, env) as (_, connection):
        plans = deployer.plan_all(connection, desired, allow_destructive=True)
    table = Table(title_justify="left")
    for column in ("pipeline", "object", "change", "detail"):
        table.add_column(column)
    changes = drifts = refused = 0
    for made in plans:
        if made.up_to_date:
            console.print(f"✓ {made.pipeline}: up to date")
            continue
        for step in made.steps:
            table.add_row(
                made.pipeline,
                escape(step.object_id),
                _change(step, refused=step.destructive),
                escape(step.detail),
            )
            changes += step.action != "drift"
            drifts += step.action == "drift"
            refused += step.destructive
    if not table.rows:
        return
    console.print(table)
    summary = f"{changes} change(s)"
    if drifts:
        summary += f"; {drifts} object(s) changed by hand (drift)"
    if refused:
        summary += f"; {refused} destructive (db.deploy refuses them without --allow-destructive)"
    console.print(summary + " — invoke db.deploy applies them", markup=False)


@command(
    name="deploy",
    help={
        **HELP,
        "allow-destructive": "also apply changes that lose data: narrowing or lossy type "
        "changes, dropped columns and tables (each is printed)",
    },
)
def deploy_command(c, pipeline=None, env="dev", dsn=None, allow_destructive=False):
    """Apply the pipelines' generated warehouse objects to the warehouse PostgreSQL: one
    transaction per pipeline, in dependency order, recorded in the ledger
    _platform.deployments. Nothing changed since the last deploy: runs no DDL."""
    from dataplatform.warehouse import deploy as deployer

    project = find_project()
    desired = desired_objects(project, pipeline)

    def announce(made: Plan) -> None:
        for step in made.statements:
            if step.destructive:
                console.print(
                    f"! {made.pipeline}: will drop or convert: {step.detail} (--allow-destructive)",
                    markup=False,
                )

    def log(name: str, step: Step) -> None:
        drift = " [drift]" if step.drift else ""
        console.print(f"  ✓ {name}: {step.action}{drift}: {step.detail}", markup=False)

    with _session(project, dsn, env) as (chosen, connection):
        outcomes = deployer.deploy(
            connection, desired, allow_destructive, chosen.env, log=log, announce=announce
        )
    for outcome in outcomes:
        if outcome.up_to_date:
            console.print(f"✓ {outcome.pipeline}: up to date (no DDL run)", markup=False)
        elif outcome.executed:
            console.print(
                f"✓ {outcome.pipeline}: deployed ({len(outcome.executed)} "
                "statement(s); ledger _platform.deployments updated)",
                markup=False,
            )
        else:
            console.print(
                f"✓ {outcome.pipeline}: already in place; recorded in the ledger "
                "_platform.deployments (no DDL run)",
                markup=False,
            )
