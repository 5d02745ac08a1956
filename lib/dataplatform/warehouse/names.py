"""The names a warehouse table gives the objects around it: one rule each, read by the
renderer, the validators and the CDC relation listing."""

from __future__ import annotations

HISTORY_SUFFIX = "_history"
HISTORY_INDEX_SUFFIX = "_history_key"
AS_OF_SUFFIX = "_as_of"
VERSIONING_SUFFIX = "_versioning"
APPEND_ONLY_SUFFIX = "_append_only"
PKEY_SUFFIX = "_pkey"
STAMP_TRIGGER_SUFFIX = "_version_stamp"
UPDATE_TRIGGER_SUFFIX = "_version_update"
DELETE_TRIGGER_SUFFIX = "_version_delete"
# The longest suffix: a table name plus it must still fit PostgreSQL's 63 bytes.
LONGEST_SUFFIX = max(
    (
        HISTORY_SUFFIX,
        HISTORY_INDEX_SUFFIX,
        AS_OF_SUFFIX,
        VERSIONING_SUFFIX,
        APPEND_ONLY_SUFFIX,
        PKEY_SUFFIX,
        STAMP_TRIGGER_SUFFIX,
        UPDATE_TRIGGER_SUFFIX,
        DELETE_TRIGGER_SUFFIX,
    ),
    key=len,
)


def history_table(table: str) -> str:
    return table + HISTORY_SUFFIX


def history_index(table: str) -> str:
    return table + HISTORY_INDEX_SUFFIX


def as_of_function(table: str) -> str:
    return table + AS_OF_SUFFIX


def versioning(table: str) -> str:
    """The trigger function keeping history."""
    return table + VERSIONING_SUFFIX


def stamp_trigger(table: str) -> str:
    """BEFORE UPDATE, per changed row: its new version starts now."""
    return table + STAMP_TRIGGER_SUFFIX


def update_trigger(table: str) -> str:
    """AFTER UPDATE, per statement: the versions that ended go to history."""
    return table + UPDATE_TRIGGER_SUFFIX


def delete_trigger(table: str) -> str:
    """AFTER DELETE, per statement: the deleted versions go to history."""
    return table + DELETE_TRIGGER_SUFFIX


def append_only(table: str) -> str:
    return table + APPEND_ONLY_SUFFIX


def pkey(table: str) -> str:
    return table + PKEY_SUFFIX


def history_relations(table: str) -> tuple[str, str]:
    """Relations (tables and indexes share a namespace) a table with history adds."""
    return history_table(table), history_index(table)
