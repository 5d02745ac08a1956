"""`invoke setup` and `invoke doctor`: from a fresh clone to a working workstation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.exceptions import Exit

from dataplatform.cli.common import command, console
from dataplatform.errors import UserError
from dataplatform.project import find_project
from dataplatform.settings import REGISTRY, registry_problem

# The checks are imported by the commands, so that every other invoke command starts without
# them (the namespace imports this module).
if TYPE_CHECKING:
    from dataplatform.workstation import checks


def _print(results: list[checks.Check]) -> None:
    from dataplatform.workstation import checks

    marks = {checks.OK: "[green]✓[/]", checks.WARN: "[yellow]![/]", checks.FAIL: "[red]✗[/]"}
    width = max(len(r.name) for r in results)
    for result in results:
        line = f"{marks[result.status]} {result.name:<{width}}  "
        console.print(line, end="")
        console.print(result.observed, markup=False, end="")
        if result.fix and result.status != checks.OK:
            console.print("  → ", end="")
            console.print(result.fix, markup=False, end="")
        console.print()


def _failed(results: list[checks.Check]) -> list[checks.Check]:
    from dataplatform.workstation import checks

    return [r for r in results if r.status == checks.FAIL and r.required]


@command(
    name="setup", help={"registry": "shared image registry, HOST[:PORT][/PREFIX] (kept in .env)"}
)
def setup(c, registry=None):
    """Bootstrap this checkout: check prerequisites, write .env with generated secrets."""
    from dataplatform.workstation import checks, envfile

    project = find_project()
    if registry and (problem := registry_problem(registry)):
        raise UserError(f"--registry {registry!r} {problem}; .env was left as it is")
    prerequisites = [checks.python_version(), checks.packages(), checks.git_present()]
    _print(prerequisites)
    if _failed(prerequisites):
        raise Exit("setup stopped: fix the ✗ above and run invoke setup again", code=1)
    result = envfile.ensure(project.root)
    if registry:
        envfile.set_value(project.root, REGISTRY, registry.rstrip("/"))
    if result.created:
        console.print(
            f"✓ wrote .env with {len(result.added)} settings (secrets generated, mode 0600)",
            markup=False,
        )
    elif result.added:
        console.print(
            f"✓ added to .env: {', '.join(result.added)} (existing values kept)", markup=False
        )
    else:
        console.print("✓ .env already complete (nothing changed)", markup=False)
    if registry:
        console.print(f"✓ image cache registry: {registry}", markup=False)
    console.print(
        "next: doit          # build images, CDC configs, dbt\n"
        "      invoke up     # start the local platform\n"
        "      invoke doctor # check everything",
        markup=False,
    )


@command(name="doctor", help={"json": "print the checks as JSON"})
def doctor(c, json=False):
    """Check this workstation: one line per check with ✓ / ! / ✗ and the fix."""
    from dataplatform.workstation import checks

    results = checks.run_all(find_project())
    if json:
        print(checks.as_json(results))
    else:
        _print(results)
        failed = _failed(results)
        warned = [r for r in results if r.status != checks.OK and r not in failed]
        console.print(
            f"{len(results) - len(failed) - len(warned)} ok, {len(warned)} "
            f"warning(s), {len(failed)} failed"
        )
    if _failed(results):
        raise Exit(code=1)
