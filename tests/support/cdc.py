"""CDC test support: render a pipeline's generated files (CDC configs, warehouse SQL, dbt
staging) in process, and run a sink config's statement for a message the way Redpanda Connect
would. Imports the project's modules, so `support` does not re-export it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

from dataplatform.cdc import dbt_staging, generate
from dataplatform.cdc.model import CdcPipeline
from dataplatform.project import Project
from support.projects import REPO


def load_pipeline(name: str, root: Path = REPO) -> tuple[Project, CdcPipeline]:
    project = Project(root)
    directory = root / "pipelines" / name
    has_section = "cdc" in (yaml.safe_load((directory / "pipeline.yaml").read_text()) or {})
    return project, generate.load(project, generate.find_source(directory, has_section))


def render_example(name: str, root: Path = REPO) -> dict[str, str]:
    """The files `doit` generates for an example pipeline of the repository (or of `root`)."""
    project, pipeline = load_pipeline(name, root)
    return generate.render(project, pipeline, ["in.yaml", "groups.yaml"])


def render_warehouse(name: str, root: Path = REPO) -> dict[str, str]:
    """The files `doit warehouse:<name>` writes for a pipeline of the repository (or of
    `root`): `objects.json` and the numbered `.sql` files."""
    from dataplatform.warehouse import generate as warehouse
    from dataplatform.warehouse.layout import inputs_of

    project = Project(root)
    directory = root / "pipelines" / name
    manifest = yaml.safe_load((directory / "pipeline.yaml").read_text()) or {}
    inputs = inputs_of(directory, "warehouse" in manifest, "cdc" in manifest)
    return warehouse.render_files(project, inputs)


def apply_warehouse(conn, files: dict[str, str]) -> None:
    """Apply generated warehouse SQL the way the orchestration's DDL step does: every `.sql`
    file, in name order."""
    for path in sorted(p for p in files if p.endswith(".sql")):
        conn.execute(files[path])


def compile_staging(name: str, root: Path = REPO) -> dict[str, str]:
    """The SQL of each generated staging model, by model name, compiled as dbt would: Jinja
    with `source()` naming the landed table (for a target dbt cannot run here)."""
    _, pipeline = load_pipeline(name, root)
    schema = pipeline.target_schema

    def source(_source: str, table: str) -> str:
        return f'"{schema}"."{table}"'

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return {
        path.rsplit("/", 1)[1].removesuffix(".sql"): env.from_string(text).render(source=source)
        for path, text in dbt_staging.render(pipeline, "test").items()
        if path.startswith("models/") and path.endswith(".sql")
    }


_SEGMENT = re.compile(r'\.(?:([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\]|\\.)*)")')


def evaluate_args_mapping(mapping: str, message: dict[str, Any]) -> list[Any]:
    """Evaluate `root = [ this.a."b", ... ]`, the only form the generator emits.

    Stand-in for Bloblang (Redpanda Connect cannot run here): it reads the mapping text the
    generator wrote, so a wrong path in that text fails the test."""
    match = re.fullmatch(r"root = \[ (.*) \]", mapping.strip(), flags=re.S)
    assert match, f"unexpected args_mapping form: {mapping!r}"
    values = []
    for item in re.findall(
        r'this(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*"))+', match.group(1)
    ):
        value: Any = message
        for plain, quoted in _SEGMENT.findall(item[len("this") :]):
            value = value.get(plain or quoted.replace('\\"', '"'))
        values.append(value)
    return values


def sink_case(sink: dict, table: str) -> dict:
    for case in sink["output"]["switch"]["cases"]:
        if case["check"] == f'this.source.table == "{table}"':
            return case["output"]["sql_raw"]
    raise AssertionError(f"no sink case for {table}")


def as_text(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()


def apply_change(conn, sink: dict, message: dict[str, Any]) -> None:
    """Run the sink statement for `message` with its parameters sent as text, as the
    PostgreSQL driver of Redpanda Connect sends them."""
    case = sink_case(sink, message["source"]["table"])
    params = [as_text(v) for v in evaluate_args_mapping(case["args_mapping"], message)]
    result = conn.pgconn.exec_params(case["query"].encode(), params)
    status = result.status
    from psycopg.pq import ExecStatus

    assert status in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK), result.error_message.decode()


# Columns whose snake_case name cannot be written bare: `user` is PostgreSQL's current role,
# `order`, `select` and `1st_contact` are syntax errors on both DuckDB and PostgreSQL.
RESERVED_WORD_COLUMNS = {
    "User": "nvarchar(50)",
    "Order": "int",
    "Select": "bit",
    "1stContact": "date",
}


def add_reserved_word_columns(root: Path) -> None:
    """Give retail_cdc's dbo.Customer (in the checkout at `root`) RESERVED_WORD_COLUMNS."""
    manifest = root / "pipelines/retail_cdc/pipeline.yaml"
    text = manifest.read_text()
    anchor = "        RowVersion: rowversion\n"
    assert anchor in text
    manifest.write_text(
        text.replace(
            anchor,
            anchor
            + "".join(
                f"        {name}: {type_}\n" for name, type_ in RESERVED_WORD_COLUMNS.items()
            ),
        )
    )
