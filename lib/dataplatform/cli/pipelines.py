"""`invoke create-pipeline` and `invoke pipelines.*`: new pipelines from templates, and which
pipelines their template has moved on from."""

from __future__ import annotations

from invoke.exceptions import Exit
from rich.table import Table

from dataplatform.cli.common import command, console
from dataplatform.pipelines.manifest import load_pipelines
from dataplatform.project import find_project
from dataplatform.scaffold import create, templates


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
    created = create.create_pipeline(find_project(), name, template, description, owner)
    console.print(f"created pipelines/{created.name} from template {created.template} "
                  f"({created.fingerprint[:19]}…)", markup=False)
    console.print(f"next: doit list --all | grep {created.name}   # its tasks\n"
                  f"      doit dbt:{created.name}                 # build it", markup=False)


@command(name="outdated")
def outdated(c):
    """List pipelines whose template changed since they were created from it."""
    project = find_project()
    current: dict[str, str | None] = {}
    table = Table(title="pipelines behind their template", title_justify="left")
    for column in ("pipeline", "template", "created from", "template now"):
        table.add_column(column)
    behind = 0
    for pipeline in load_pipelines(project):
        if not pipeline.template:
            continue
        if pipeline.template not in current:
            try:
                current[pipeline.template] = templates.fingerprint(
                    templates.template_dir(project, pipeline.template))
            except Exception:
                current[pipeline.template] = None
        now = current[pipeline.template]
        if now != pipeline.template_fingerprint:
            behind += 1
            table.add_row(pipeline.name, pipeline.template,
                          (pipeline.template_fingerprint or "?")[:19],
                          (now or "template gone")[:19])
    if behind:
        console.print(table)
        console.print(f"{behind} pipeline(s) behind their template")
    else:
        console.print("every pipeline matches the current version of its template")


@command(name="update", help={"name": "the pipeline to bring up to date with its template"})
def update(c, name):
    """Apply template changes to pipelines/NAME, keeping local edits (three-way merge)."""
    from dataplatform.scaffold.update import update_pipeline

    result = update_pipeline(find_project(), name)
    for relpath in result.updated:
        console.print(f"updated  {relpath}", markup=False)
    for relpath in result.added:
        console.print(f"added    {relpath}", markup=False)
    for relpath in result.removed:
        console.print(f"removed  {relpath}", markup=False)
    for relpath in result.conflicts:
        console.print(f"CONFLICT (content): Merge conflict in {relpath}", markup=False)
    if result.conflicts:
        raise Exit(f"{len(result.conflicts)} conflict(s): resolve the <<<<<<< markers in "
                   f"pipelines/{name}, then run doit", code=1)
    if not (result.updated or result.added or result.removed):
        console.print(f"pipelines/{name} already matches its template")
