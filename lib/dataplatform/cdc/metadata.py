"""The columns a CDC replica has besides the source table's, defined once: the replica's DDL
(`dataplatform.warehouse.render` through `statements.replica_columns`), the sink's upsert, the
dbt sources and staging models and DuckDB's empty landing tables all read `COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplatform.cdc.types import HEX, TEXT

# What a metadata column is for (how the generators find the one they need).
OPERATION = "operation"  # the change's operation letter (see statements.OPERATIONS)
LSN = "lsn"  # the change's commit LSN
SEQ = "seq"  # the change's sequence value within its transaction
COMMITTED = "committed"  # when the change committed on SQL Server (dbt's freshness field)
LOADED = "loaded"  # when the sink last wrote the row (a redelivery touches only this)


@dataclass(frozen=True)
class MetadataColumn:
    name: str
    role: str
    postgres: str
    duckdb: str  # in DuckDB's landing tables (dbt on the embedded warehouse)
    nullable: bool
    default: str | None  # the replica column's DEFAULT
    message_field: str | None  # the sink writes it from this field (None: `now()` on write)
    travels_as: str  # how that field travels: types.TEXT or types.HEX
    staging: str | None  # its name in the dbt staging models (None: not shown there)


COLUMNS: tuple[MetadataColumn, ...] = (
    MetadataColumn(
        "__cdc_operation",
        OPERATION,
        "char(1)",
        "char(1)",
        False,
        "'c'",
        "op",
        TEXT,
        "cdc_operation",
    ),
    MetadataColumn("__cdc_lsn", LSN, "bytea", "blob", False, "'\\x'::bytea", "lsn", HEX, None),
    MetadataColumn("__cdc_seq", SEQ, "bytea", "blob", False, "'\\x'::bytea", "seq", HEX, None),
    MetadataColumn(
        "__cdc_commit_time",
        COMMITTED,
        "timestamp(3)",
        "timestamp",
        True,
        None,
        "commit_time",
        TEXT,
        "cdc_committed_at",
    ),
    MetadataColumn(
        "__cdc_loaded_at",
        LOADED,
        "timestamptz",
        "timestamptz",
        False,
        "now()",
        None,
        TEXT,
        "cdc_loaded_at",
    ),
)
WRITTEN = tuple(c for c in COLUMNS if c.message_field)  # from the message, in this order
STAGED = tuple(c for c in COLUMNS if c.staging)


def column(role: str) -> MetadataColumn:
    return next(c for c in COLUMNS if c.role == role)
