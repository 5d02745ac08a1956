"""`invoke create-pipeline` and `invoke pipelines.*`: new pipelines from templates, and which
pipelines their template has moved on from."""

from __future__ import annotations

from invoke.exceptions import Exit

from dataplatform.cli.common import command, console, errors
from dataplatform.errors import UserError
from dataplatform.project import find_project

# The scaffolding, the pipeline manifests and rich's tables are imported by the commands that
# use them, so that every other invoke command starts without them.


@command(
    name="create-pipeline",
    help={
        "name": "lowercase identifier: the folder under pipelines/ and the dbt project's name",
        "template": "a template of pipelines/_templates/ (dbt, cdc); default dbt",
        "description": "one line saying what the pipeline delivers",
        "owner": "the team that owns it",
    },
)
def create_pipeline(c, name, template="dbt", description="", owner=""):
    """Create pipelines/NAME from a template; it is picked up by doit at once."""
    from dataplatform.scaffold import create

    created = create.create_pipeline(find_project(), name, template, description, owner)
    console.print(
        f"created pipelines/{created.name} from template {created.template} "
        f"({created.fingerprint[:19]}…)",
        markup=False,
    )
    if created.uncommitted:
        errors.print(
            f"! template {created.template} has uncommitted changes "
            f"({created.uncommitted[0]}…): commit them, or pipelines.update cannot "
            "find this version in git history later",
            markup=False,
        )
    console.print(
        f"next: doit list --all | grep {created.name}   # its tasks\n"
        f"      doit dbt:{created.name}                 # build it",
        markup=False,
    )
    example = created.directory / "config" / "cdc.example.yaml"
    if example.is_file():
        console.print(
            f"      CDC: rename pipelines/{created.name}/config/cdc.example.yaml to "
            "cdc.yaml, declare its tables, run doit",
            markup=False,
        )


@command(name="outdated")
def outdated(c):
    """List pipelines whose template changed since they were created from it (a change to
    comments only does not count), and those with an update still to finish."""
    from rich.table import Table

    from dataplatform.pipelines.manifest import load_pipelines
    from dataplatform.scaffold import templates
    from dataplatform.scaffold.update import STATE_FILE

    project = find_project()
    table = Table(title="pipelines behind their template", title_justify="left")
    for column in ("pipeline", "template", "created from", "template now"):
        table.add_column(column)
    behind = 0
    for pipeline in load_pipelines(project):
        if not pipeline.template:
            continue
        recorded = pipeline.template_fingerprint or "?"
        try:
            directory = templates.template_dir(project, pipeline.template)
        except UserError:
            directory = None
        pending = (pipeline.directory / STATE_FILE).is_file()
        if directory is not None and not pending and templates.matches(recorded, directory):
            continue
        behind += 1
        now = templates.fingerprint(directory)[:24] if directory else "template gone"
        if pending:
            now += f" (update in progress: resolve, then pipelines.update {pipeline.name})"
        table.add_row(pipeline.name, pipeline.template, recorded[:24], now)
    if behind:
        console.print(table)
        console.print(
            f"{behind} pipeline(s) behind their template — invoke pipelines.update "
            "NAME applies the changes"
        )
    else:
        console.print("every pipeline matches the current version of its template")


@command(name="update", help={"name": "the pipeline to bring up to date with its template"})
def update(c, name):
    """Apply template changes to pipelines/NAME, keeping local edits (three-way merge)."""
    from dataplatform.scaffold.update import update_pipeline

    result = update_pipeline(find_project(), name)
    if result.resumed:
        console.print(
            f"the conflicts of the last update of pipelines/{name} are resolved", markup=False
        )
    for relpath in result.updated:
        console.print(f"updated  {relpath}", markup=False)
    for relpath in result.added:
        console.print(f"added    {relpath}", markup=False)
    for relpath in result.removed:
        console.print(f"removed  {relpath}", markup=False)
    for conflict in result.conflicts:
        console.print(str(conflict), markup=False)
    if result.conflicts:
        raise Exit(
            f"{len(result.conflicts)} conflict(s) in pipelines/{name}: resolve them "
            f"(see {result.state_file}), then run invoke pipelines.update {name} again "
            "to finish",
            code=1,
        )
    if result.finished is None:
        console.print(f"pipelines/{name} already matches its template", markup=False)
    else:
        console.print(
            f"pipelines/{name} now records template version {result.finished[:24]}…", markup=False
        )
