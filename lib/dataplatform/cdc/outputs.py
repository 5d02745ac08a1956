"""Every name a CDC input becomes, and the one check that no two inputs become the same name.

The generators derive file names, Kafka topics, PostgreSQL relations and checkpoint keys from
names people write, through rules that fold or drop characters (tenants `x.1` and `x_1` both
give `source-x_1.yaml`). Each derived name is defined here once and read by the generators;
`outputs_of_group` and `outputs_of_pipeline` list them all, each with the input it comes from,
and `first_collision` finds two inputs that would silently share one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from dataplatform.cdc import naming
from dataplatform.cdc.layout import OUTPUT
from dataplatform.cdc.model import SHARED, CdcPipeline, Database, SourceGroup, Table

T = TypeVar("T")


@dataclass(frozen=True)
class Output:
    """A derived name, as the user will see it: `kind` says where (`Kafka topic`, …)."""

    kind: str
    name: str
    compare: str = ""  # the spelling two names collide in, when not the name itself

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.compare or self.name

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}"


def source_file(group: SourceGroup, env: str, database: Database) -> str:
    """A source config's path inside the pipeline's generated folder."""
    if group.pattern == SHARED:
        return f"{env}/source.yaml"
    return f"{env}/source-{naming.label(database.key)}.yaml"


def sink_file(env: str) -> str:
    return f"{env}/sink.yaml"


def topic(pipeline: str, env: str, table: Table) -> str:
    return naming.topic("cdc", env, pipeline, table.schema, table.name)


def checkpoint_key(pipeline: str, env: str, database: Database, table: Table) -> str:
    return "/".join([pipeline, env, database.key, table.capture_instance])


RELATION = "PostgreSQL relation"
# Lists the relations a pipeline writes, so other pipelines landing in the same schema can
# check theirs against it without parsing this pipeline's YAML.
RELATIONS_FILE = "relations.txt"


def primary_key_name(table: Table) -> str:
    """The name of a target table's primary-key constraint (an index: a relation too)."""
    return f"{table.target_table}_pkey"[: naming.PG_IDENTIFIER_MAX_BYTES]


def outputs_of_group(group: SourceGroup) -> Iterator[tuple[Output, Database]]:
    """What each source database of a group becomes in every pipeline reading the group."""
    for database in group.databases:
        path = source_file(group, database.env, database)
        yield Output("generated file", f"pipelines/*/{OUTPUT}/{path}"), database


def outputs_of_pipeline(pipeline: CdcPipeline) -> Iterator[tuple[Output, Table]]:
    """What each table of a pipeline becomes: its DDL file, its topic in every environment,
    its PostgreSQL relations, its capture instance and its checkpoint key per source database."""
    from dataplatform.warehouse import layout as warehouse

    folder = f"pipelines/{pipeline.name}/{warehouse.OUTPUT}"
    schema = pipeline.target_schema
    for table in pipeline.tables:
        path = warehouse.object_file("table", schema, table.target_table)
        yield Output("generated file", f"{folder}/{path}"), table
        for relation in (table.target_table, primary_key_name(table), *history_relations(table)):
            # dbt and DuckDB fold case; PostgreSQL relations share one namespace per schema
            yield Output(RELATION, f"{schema}.{relation}", f"{schema}.{relation}".lower()), table
        yield (
            Output(
                "SQL Server capture instance",
                table.capture_instance,
                table.capture_instance.lower(),
            ),
            table,
        )
        for env in pipeline.group.environments:
            yield Output("Kafka topic", topic(pipeline.name, env, table)), table
            for database in pipeline.group.databases:
                if database.env == env:
                    yield (
                        Output(
                            "checkpoint key", checkpoint_key(pipeline.name, env, database, table)
                        ),
                        table,
                    )


def history_relations(table: Table) -> tuple[str, ...]:
    """The relations a replica with history adds: its history table and that table's index."""
    from dataplatform.warehouse.names import history_relations as relations

    return relations(table.target_table) if table.history else ()


def reserved_outputs(pipeline: CdcPipeline) -> dict[tuple[str, str], str]:
    """Names the generator itself takes in a pipeline, and what takes them."""
    from dataplatform.cdc.statements import CHECKPOINT_TABLE  # loads Jinja: only when used

    relation = f"{pipeline.target_schema}.{CHECKPOINT_TABLE}"
    return {(RELATION, relation.lower()): "the checkpoint table"}


def relations_listing(pipeline: CdcPipeline, header: str) -> str:
    """`relation<TAB>table` a line: each PostgreSQL relation the pipeline writes (as compared)
    and the source table it comes from."""
    lines = sorted(
        {
            f"{output.key[1]}\t{table.qualified}"
            for output, table in outputs_of_pipeline(pipeline)
            if output.kind == RELATION
        }
    )
    return "".join(f"{line}\n" for line in [f"# {header}", *lines])


def read_relations(text: str) -> dict[str, str]:
    """What `relations_listing` wrote: relation → source table."""
    pairs = (line.split("\t") for line in text.splitlines() if not line.startswith("#"))
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def first_collision(
    outputs: Iterable[tuple[Output, T]], reserved: dict[tuple[str, str], str] | None = None
) -> tuple[Output, T | str, T] | None:
    """The first output two different inputs share: (output, first input, second input).
    A reserved name's first input is the text saying what holds it."""
    seen: dict[tuple[str, str], T | str] = dict(reserved or {})
    for output, source in outputs:
        first = seen.setdefault(output.key, source)
        if first is not source:
            return output, first, source
    return None
