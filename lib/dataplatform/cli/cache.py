"""`invoke cache.*`: see and clean this project's content-addressed images.

The catalog, the engine and rich's tables are imported by the commands that use them, so that
every other invoke command starts without them (the namespace imports this module)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dataplatform.cli.common import command, console, human_age, human_size
from dataplatform.errors import UserError
from dataplatform.project import find_project

if TYPE_CHECKING:
    from dataplatform.project import Project


def _current(project: Project) -> tuple[str, dict[str, str | None]]:
    from dataplatform.catalog import load_catalog
    from dataplatform.images import fingerprint as fp

    catalog = load_catalog(project)
    current: dict[str, str | None] = {}
    for spec in catalog.images:
        try:
            current[spec.name] = fp.of_project(spec, project).digest
        except UserError as exc:
            console.print(f"! {exc} (its images are kept)", markup=False)
            current[spec.name] = None
    return catalog.namespace, current


def _mark(value: bool | None) -> str:
    return {True: "✓", False: "✗", None: "?"}[value]


@command(name="status")
def status(c):
    """Table of this project's images: name, fingerprint, size, age, current?, in registry?,
    used by (containers, and other checkouts that use it as their current image)"""
    from rich.table import Table

    from dataplatform import settings
    from dataplatform.images import engine, housekeeping

    project = find_project()
    namespace, current = _current(project)
    registry = settings.registry(project.root)
    records = housekeeping.survey(engine.client().api, namespace, current, registry, project.root)
    now = datetime.now(tz=UTC)
    table = Table(title=f"images of {namespace}", title_justify="left")
    for column in ("image", "fingerprint", "size", "age", "current", "registry", "used by"):
        table.add_column(column, justify="right" if column in ("size", "age") else "left")
    for r in records:
        table.add_row(
            r.name,
            r.short,
            human_size(r.size),
            human_age((now - r.created).total_seconds()),
            _mark(r.current),
            _mark(r.in_registry) if registry else "—",
            ", ".join([*r.used_by, *(f"current in {c}" for c in r.current_in)]),
        )
    missing = [
        name
        for name, digest in current.items()
        if digest and not any(r.name == name and r.fingerprint == digest for r in records)
    ]
    console.print(table)
    total = sum(r.size for r in records)
    console.print(
        f"{len(records)} image(s), {human_size(total)}; "
        f"{sum(1 for r in records if r.current is False)} superseded"
        + (f"; not built yet: {', '.join(missing)} (run doit)" if missing else "")
    )


@command(
    name="clean",
    help={
        "older-than": "only superseded images older than this (30m, 12h, 7d, 2w); default 7d",
        "dry-run": "list what would be removed, remove nothing",
    },
)
def clean(c, older_than="7d", dry_run=False):
    """Remove this project's superseded images; never current ones (here or in another live
    checkout on this engine), in-use ones or foreign ones."""
    from dataplatform.images import engine, housekeeping

    threshold = housekeeping.parse_age(older_than)
    project = find_project()
    namespace, current = _current(project)
    api = engine.client().api
    records = housekeeping.survey(api, namespace, current, here=project.root)
    for record in records:
        if record.current is False and record.current_in:
            console.print(
                f"keeping {record.name} fp-{record.short}: current in "
                f"{', '.join(record.current_in)}",
                markup=False,
            )
    doomed = housekeeping.removable(records, threshold)
    if not doomed:
        console.print(
            f"nothing to clean: no superseded image of {namespace} older than "
            f"{older_than} that no container or other checkout uses"
        )
        return
    verb = "would remove" if dry_run else "removing"
    for record in doomed:
        console.print(
            f"{verb} {record.name} fp-{record.short} ({human_size(record.size)}, "
            f"{', '.join(record.tags) or record.image_id[:19]})",
            markup=False,
        )
        if not dry_run:
            housekeeping.remove(api, record)
    freed = human_size(sum(r.size for r in doomed))
    console.print(f"{'would free' if dry_run else 'freed'} up to {freed} in {len(doomed)} image(s)")
