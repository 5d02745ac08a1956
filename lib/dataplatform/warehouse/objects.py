"""The desired state of one pipeline's warehouse objects: what `doit` generates and what
`invoke db.plan` / `db.deploy` compare with a live PostgreSQL.

This is the contract between generation (`warehouse:<pipeline>` writes `objects.json` beside
the SQL files in `pipelines/<p>/generated/warehouse/`) and deployment (which reads only that
file and the SQL it names, never the YAML). Every object carries the exact DDL that creates it
and the sha256 of that DDL; the deployer records the sha in its ledger.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

FORMAT = 1
OBJECTS_FILE = "objects.json"

Kind = Literal["schema", "table", "function", "trigger"]
# Deploy order: an object only depends on kinds earlier in this tuple (and on tables it names).
KIND_ORDER: tuple[Kind, ...] = ("schema", "table", "function", "trigger")


@dataclass(frozen=True)
class Column:
    """A physical column as PostgreSQL should have it: `type` is the declared type text
    (`varchar(60)`, `numeric(12,2)`, `timestamptz`); the server normalizes it."""

    name: str
    type: str
    nullable: bool = True
    default: str | None = None


@dataclass(frozen=True)
class WarehouseObject:
    """One database object and the SQL that creates it.

    - schema: `name` is the schema; `ddl` is `CREATE SCHEMA IF NOT EXISTS …`.
    - table: `columns` are every physical column in order (metadata columns included), `key`
      the primary key; `ddl` creates the table when absent (later changes are migrated by the
      deployer from the column lists, not by re-running `ddl`); it may also hold the table's
      `ADD COLUMN IF NOT EXISTS`, `CREATE INDEX IF NOT EXISTS` (history tables) and `COMMENT`.
    - function: `ddl` is `CREATE OR REPLACE FUNCTION …`, safe to re-run; a function whose
      result columns follow a table's (`<table>_as_of`) is `DROP FUNCTION IF EXISTS …;
      CREATE FUNCTION …` instead, as a replaced function cannot change its result type.
    - trigger: `table` is the table it is on; `ddl` is `CREATE OR REPLACE TRIGGER …` (the
      deployer drops the old one first when the sha changed).
    `depends_on` names other objects by `id`. `declared_in` is `file:line` of the YAML that
    asked for it, for error messages.
    """

    kind: Kind
    schema: str
    name: str
    ddl: str
    layer: str | None = None  # tables: bronze | silver | gold | history
    columns: tuple[Column, ...] = ()
    key: tuple[str, ...] = ()
    table: str | None = None  # triggers: the table's name (same schema)
    depends_on: tuple[str, ...] = ()
    declared_in: str = ""

    @property
    def id(self) -> str:
        """`kind:schema.name`, unique within a database (functions are not overloaded here)."""
        return (
            f"{self.kind}:{self.schema}.{self.name}"
            if self.kind != "schema"
            else f"schema:{self.name}"
        )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.ddl.encode()).hexdigest()


@dataclass(frozen=True)
class PipelineObjects:
    pipeline: str
    objects: tuple[WarehouseObject, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "pipeline": self.pipeline,
            "objects": [_object_dict(o) for o in self.objects],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PipelineObjects:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"objects format {data.get('format')!r}, expected {FORMAT}")
        objects = []
        for item in data["objects"]:
            item = dict(item)
            item.pop("sha256", None)
            item["columns"] = tuple(Column(**c) for c in item.get("columns", ()))
            item["key"] = tuple(item.get("key", ()))
            item["depends_on"] = tuple(item.get("depends_on", ()))
            objects.append(WarehouseObject(**item))
        return cls(pipeline=data["pipeline"], objects=tuple(objects))

    @classmethod
    def read(cls, path: Path) -> PipelineObjects:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _object_dict(obj: WarehouseObject) -> dict:
    data = asdict(obj)
    data["sha256"] = obj.sha256  # for people reading the file; recomputed on read
    return data
