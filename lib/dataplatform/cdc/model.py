"""The validated, frozen picture of CDC sources and pipelines that the generators read."""

from __future__ import annotations

from dataclasses import dataclass

from dataplatform.cdc.types import MssqlType

ENVIRONMENTS = ("dev", "nonprod", "prod")
PER_TENANT = "db-per-tenant"
SHARED = "db-shared"


@dataclass(frozen=True)
class Server:
    name: str
    host: str  # literal or ${VAR} reference
    port: str
    user: str  # always a ${VAR} reference
    password: str  # always a ${VAR} reference


@dataclass(frozen=True)
class Database:
    """One source database a source pipeline reads: a tenant's own, or the shared one."""

    key: str  # tenant name (db-per-tenant) or "shared"
    env: str
    server: Server
    database: str
    tenant: str | None  # the tenant whose database this is (db-per-tenant)
    customer_id: str | None = None


@dataclass(frozen=True)
class SourceGroup:
    name: str
    pattern: str
    databases: tuple[Database, ...]
    tenant_column: str | None = None  # db-shared: the column naming the tenant
    include_tenants: tuple[str, ...] = ()  # db-shared: only these tenants (empty: all)

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(e for e in ENVIRONMENTS if any(d.env == e for d in self.databases))


@dataclass(frozen=True)
class Column:
    name: str
    source_type: MssqlType
    target_type: str
    nullable: bool


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    capture_instance: str
    target_table: str
    history: bool = False  # the replica keeps every version (see dataplatform.warehouse)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class CdcPipeline:
    name: str
    group: SourceGroup
    target_schema: str
    tenant_column: str  # the tenant column of every target table
    tables: tuple[Table, ...]
    declared_in: str  # display path of the file holding the cdc section

    @property
    def adds_tenant_column(self) -> bool:
        """db-per-tenant tables get a tenant column; db-shared ones already have one."""
        return self.group.pattern == PER_TENANT
