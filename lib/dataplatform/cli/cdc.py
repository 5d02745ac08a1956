"""`invoke cdc.lint`: the generated CDC configs checked against Redpanda Connect's own
component specification (the checks live in dataplatform.cdc.lint; this module finds the files
and prints one line per finding)."""

from __future__ import annotations

from dataplatform.cli.common import command, console
from dataplatform.errors import UserError
from dataplatform.project import find_project


@command(
    name="lint",
    help={
        "pipeline": "lint only this pipeline's generated configs (default: every pipeline "
        "with generated CDC configs)"
    },
)
def lint_command(c, pipeline=None):
    """Check the generated CDC configs against Redpanda Connect's own component spec.

    Lints pipelines/*/generated/cdc/**.yaml (written by doit) against the vendored facts of
    Redpanda Connect's component specification: unknown components or fields, wrong kinds,
    values outside a field's options, missing required fields, deprecated components or
    fields, invalid or duplicate labels, Bloblang that does not parse or calls unknown
    functions or methods, and SQL Server DSNs a substituted password could break. Prints one
    line per finding (file:line: YAML path: problem) and exits 1 when there is any. Lints the
    files as they are: run doit first after changing a pipeline."""
    from dataplatform.cdc import lint  # here, so other commands start without it

    project = find_project()
    files = lint.generated_configs(project, pipeline)
    findings = [f for path in files for f in lint.lint_file(path, project.relative(path))]
    for finding in findings:
        console.print(str(finding), markup=False, highlight=False)
    what = f"{len(files)} generated CDC config(s)"
    if findings:
        broken = len({f.file for f in findings})
        raise UserError(
            f"{len(findings)} finding(s) in {broken} of {what} (Redpanda Connect "
            f"{lint.version()}) — a finding in a generated config is a bug of the "
            "CDC generator: report it"
        )
    console.print(f"✓ {what} clean (Redpanda Connect {lint.version()})", markup=False)
