"""Redpanda Connect configs of a CDC pipeline, assembled as data and dumped as YAML.

A **source** (one per source database and environment) polls each table's
`cdc.fn_cdc_get_all_changes_<capture instance>` between the saved LSN and the current maximum,
emits one message per change keyed by the primary key, and saves the new LSN only after the
broker acknowledged the batch (`fan_out_sequential`: Redpanda first, then the checkpoint).
A **sink** (one per environment) applies each change to PostgreSQL with one idempotent
statement per table (a delete leaves a tombstone, so a replayed older change is ignored).
Targets Redpanda Connect 4.68 or newer: `generate`, `broker`, `sql_raw`, `redpanda`, `switch`,
`cache` with the `sql` cache, Bloblang. What is assembled here must pass `dataplatform.cdc.lint`
(Redpanda Connect's own component specification); the generator checks before it writes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from dataplatform.cdc import naming, outputs
from dataplatform.cdc.lint import mssql_dsn as mssql_dsn_grammar
from dataplatform.cdc.model import CdcPipeline, Database, Table
from dataplatform.cdc.statements import CHECKPOINT_TABLE, OPERATIONS, SinkStatement


class Block(str):
    """A string dumped as a YAML block scalar (`|-`): Redpanda Connect substitutes `${VAR}` into
    the config's text before reading the YAML, and in a block scalar every character of a
    value (a `#`, `: `, a quote) stays text (a newline arrives as `\\n`)."""


TARGET_VERSION = "4.68"
BROKERS = "${REDPANDA_BROKERS:localhost:9092}"
POSTGRES_DSN = Block("${CDC_POSTGRES_DSN}")
POLL_INTERVAL = "${CDC_POLL_INTERVAL:5s}"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHELL_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-")


def connect_env(value: str) -> str:
    """`${VAR:-default}` (what users write) → `${VAR:default}` (what Redpanda Connect reads)."""
    return _SHELL_DEFAULT.sub(r"${\1:", value)


def blob_field(root: str, *parts: str) -> str:
    """A Bloblang path; segments that are not plain identifiers are quoted (`this."Årsak"`,
    `this."Line\\"No"`): Bloblang reads a quoted segment as a Go string literal."""
    out = root
    for part in parts:
        out += f".{part}" if _IDENTIFIER.match(part) else "." + blob_string(part)
    return out


def blob_string(text: str) -> str:
    """A Bloblang string literal (a Go string literal: JSON's escapes are a subset; a newline
    or control character is escaped, non-ASCII text kept)."""
    return json.dumps(text, ensure_ascii=False)


def topic(pipeline: CdcPipeline, env: str, table: Table) -> str:
    return outputs.topic(pipeline.name, env, table)


def mssql_dsn(database: Database) -> Block:
    """The ADO-form DSN of go-mssqldb (what Redpanda Connect's `mssql` driver reads), every
    value double-quoted and the password last: `${VAR}` values are substituted raw, so a `;`,
    `}`, `@`, `/`, `%`, `'`, `=` or space in a password is safe; only a `"` is not (see
    `dataplatform.cdc.lint.mssql_dsn`)."""
    server = database.server
    parts = [
        ("server", server.host),
        ("port", str(server.port)),
        ("user id", server.user),
        ("database", database.database),
        ("app name", "dataplatform-cdc"),
        ("password", server.password),
    ]
    return Block(
        connect_env(";".join(f"{key}={mssql_dsn_grammar.quote(value)}" for key, value in parts))
    )


def _change_mapping(pipeline: CdcPipeline, env: str, database: Database, table: Table) -> str:
    group = pipeline.group
    if database.tenant is not None:
        tenant_expr = blob_string(database.tenant)
    else:
        tenant_expr = blob_field("this", group.tenant_column or "") + ".string()"
    key_parts = [tenant_expr] + [blob_field("this", k) for k in table.primary_key]
    checkpoint_key = outputs.checkpoint_key(pipeline.name, env, database, table)
    source = {"group": group.name, "database": database.database, "table": table.qualified}
    if database.customer_id:
        source["customer_id"] = database.customer_id
    source_literal = (
        "{" + ", ".join(f"{blob_string(k)}: {blob_string(v)}" for k, v in source.items()) + "}"
    )

    def columns(names) -> str:
        return "{" + ", ".join(f"{blob_string(n)}: {blob_field('this', n)}" for n in names) + "}"

    return "\n".join(
        [
            f"meta topic = {blob_string(topic(pipeline, env, table))}",
            f"meta checkpoint_key = {blob_string(checkpoint_key)}",
            "meta lsn = this.__lsn",
            f"meta key = [{', '.join(key_parts)}].format_json(no_indent: true).string()",
            "root.op = match this.__op {",
            *(f"  {code} => {blob_string(letter)}" for code, letter in sorted(OPERATIONS.items())),
            '  _ => throw("unexpected CDC operation %v".format(this.__op))',
            "}",
            "root.lsn = this.__lsn",
            "root.seq = this.__seq",
            "root.commit_time = this.__commit_time",
            f"root.tenant = {tenant_expr}",
            f"root.source = {source_literal}",
            f"root.key = {columns(table.primary_key)}",
            f"root.after = {columns([c.name for c in table.columns])}",
        ]
    )


def checkpoint_cache(pipeline: CdcPipeline) -> dict[str, Any]:
    table = f"{pipeline.target_schema}.{CHECKPOINT_TABLE}"
    return {
        "label": "checkpoints",
        "sql": {
            "driver": "postgres",
            "dsn": POSTGRES_DSN,
            "table": table,
            "key_column": "key",
            "value_column": "value",
            # A checkpoint never moves backwards: LSNs are fixed-width hex, so text order is
            # LSN order.
            "set_suffix": "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = "
            f"now() WHERE {table}.value < EXCLUDED.value",
        },
    }


def source_config(
    pipeline: CdcPipeline, env: str, database: Database, queries: dict[str, str]
) -> dict[str, Any]:
    """`queries`: the T-SQL change query of each table, by qualified name."""
    dsn = mssql_dsn(database)
    inputs = []
    for table in pipeline.tables:
        checkpoint_key = outputs.checkpoint_key(pipeline.name, env, database, table)
        inputs.append(
            {
                "label": naming.label("poll", table.schema, table.name),
                "generate": {"interval": POLL_INTERVAL, "mapping": "root = {}"},
                "processors": [
                    {
                        "branch": {
                            "processors": [
                                {
                                    "cache": {
                                        "resource": "checkpoints",
                                        "operator": "get",
                                        "key": checkpoint_key,
                                    }
                                }
                            ],
                            "result_map": "meta checkpoint = content().string()",
                        }
                    },
                    {"catch": [{"mapping": 'meta checkpoint = ""'}]},
                    {
                        "sql_raw": {
                            "driver": "mssql",
                            "dsn": dsn,
                            "query": queries[table.qualified],
                            "args_mapping": "root = [ @checkpoint ]",
                        }
                    },
                    {"unarchive": {"format": "json_array"}},
                    {"mapping": _change_mapping(pipeline, env, database, table)},
                ],
            }
        )
    return {
        "input": {"broker": {"inputs": inputs}},
        "cache_resources": [checkpoint_cache(pipeline)],
        "output": {
            "broker": {
                "pattern": "fan_out_sequential",
                "outputs": [
                    {
                        "redpanda": {
                            "seed_brokers": [BROKERS],
                            "topic": "${! @topic }",
                            "key": "${! @key }",
                            "max_in_flight": 1,
                        }
                    },
                    {
                        "cache": {
                            "target": "checkpoints",
                            "key": "${! @checkpoint_key }",
                            "max_in_flight": 1,
                        },
                        "processors": [
                            {
                                "mapping": "root = if batch_index() == batch_size() - 1 "
                                "{ @lsn } else { deleted() }"
                            }
                        ],
                    },
                ],
            }
        },
    }


def args_mapping(statement: SinkStatement) -> str:
    return (
        "root = [ " + ", ".join(blob_field("this", *path) for path in statement.parameters) + " ]"
    )


def sink_config(
    pipeline: CdcPipeline, env: str, statements: dict[str, SinkStatement]
) -> dict[str, Any]:
    cases = []
    for table in pipeline.tables:
        statement = statements[table.qualified]
        cases.append(
            {
                "check": f"this.source.table == {blob_string(table.qualified)}",
                "output": {
                    "sql_raw": {
                        "driver": "postgres",
                        "dsn": POSTGRES_DSN,
                        "query": statement.sql,
                        "args_mapping": args_mapping(statement),
                        "max_in_flight": 1,
                    }
                },
            }
        )
    return {
        "input": {
            "redpanda": {
                "seed_brokers": [BROKERS],
                "topics": [topic(pipeline, env, t) for t in pipeline.tables],
                "consumer_group": f"cdc-sink.{pipeline.name}.{env}",
            }
        },
        "output": {"switch": {"strict_mode": True, "cases": cases}},
    }


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value or isinstance(value, Block) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Block, _represent_str)


def dump(config: dict[str, Any], header: list[str]) -> str:
    body = yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    return "".join(f"# {line}\n" for line in header) + body
