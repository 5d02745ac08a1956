"""Read `platform/cdc/source-groups.yaml` and a pipeline's `cdc:` section into the model.

Every rule a generator relies on is checked here, with file, line and key: unknown keys (with a
did-you-mean), credentials that are not a bare `${VAR}`, unknown servers and groups, duplicate
databases, tables without a primary key, primary-key columns that are not columns, types that do
not map, and two inputs that would become one output (`outputs.py` lists them). The source
groups are read group by group, so one broken group leaves the others usable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dataplatform.cdc import naming, outputs, types
from dataplatform.cdc.layout import SOURCE_GROUPS, CdcSource
from dataplatform.cdc.model import (
    ENVIRONMENTS,
    PER_TENANT,
    SHARED,
    CdcPipeline,
    Column,
    Database,
    Server,
    SourceGroup,
    Table,
)
from dataplatform.config.validate import check_keys, describe, expect, optional, suggestion
from dataplatform.config.yamlsource import KeyPath, YamlDocument, load_yaml
from dataplatform.errors import ConfigError
from dataplatform.project import Project
from dataplatform.scaffold.names import default_landing_schema, landing_schema_problem

T = TypeVar("T")

GROUP_KEYS = ("type", "pattern", "servers", "tenants", "tenant_column", "databases")
SERVER_KEYS = ("host", "port", "user", "password")
TENANT_KEYS = ("database", "server", "env", "customer_id")
SHARED_DB_KEYS = ("server", "database")
PIPELINE_KEYS = ("source_group", "target_schema", "tenant_column", "tables")
TABLE_KEYS = ("primary_key", "columns", "capture_instance", "target_table", "history")
COLUMN_KEYS = ("type", "nullable", "target_type")
ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$")
# A credential names its variable and nothing else: a default would be the secret itself,
# written into every generated config.
CREDENTIAL_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
CREDENTIALS = ("user", "password")
ANY_REF = re.compile(r"\$\{[^}]*\}")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_YAML_BOOLEAN = "a column name YAML reads as true/false (from yes, no, on, off)"
_QUOTE_IT = 'quote it, e.g. "No": int'
_COLUMN_SHORTHAND = re.compile(r"^(?P<type>.*?)(?:\s+(?P<null>not\s+null|null))?\s*$", re.I)


def _string(doc: YamlDocument, keypath: KeyPath, value: Any, fix: str = "") -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return expect(doc, keypath, value, str, fix)


def _check_refs(doc: YamlDocument, keypath: KeyPath, value: str) -> None:
    for ref in ANY_REF.findall(value):
        if not ENV_REF.match(ref):
            raise doc.error(
                keypath, f"{ref} is not a valid reference", "write ${NAME} or ${NAME:-default}"
            )


def credential_variable(group: str, server: str, key: str) -> str:
    """The variable to suggest for a server's credential: distinct for every group and server
    (two groups' `main` servers get `ERP_MAIN_…` and `SHOP_MAIN_…`)."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{group}_{server}").strip("_").upper()
    return f"{stem}_MSSQL_{key.upper()}"


def _credential(
    doc: YamlDocument, keypath: KeyPath, group: str, server: str, key: str, value: str
) -> None:
    """A credential is a bare `${VAR}`. Never echo the value: it may be the secret itself."""
    if CREDENTIAL_REF.match(value):
        return
    variable = credential_variable(group, server, key)
    if value.startswith("${") and ":-" in value:
        name = value[2 : value.index(":-")]
        problem = "takes no default: a default is a secret written into every generated config"
        fix = f"write {key}: ${{{name}}} and keep the value in .env"
    else:
        problem = "must be an ${ENV} reference, not a literal value"
        fix = f"write {key}: ${{{variable}}} and keep the value in .env"
    raise doc.error((*keypath, key), problem, fix)


def _server(doc: YamlDocument, keypath: KeyPath, group: str, name: str, body: Any) -> Server:
    expect(doc, keypath, body, dict)
    check_keys(doc, keypath, body, SERVER_KEYS)
    fields = {}
    for key in SERVER_KEYS:
        if key not in body:
            raise doc.error(
                keypath,
                f"missing {key}",
                f"add {key}: ${{{credential_variable(group, name, key)}}}"
                if key in CREDENTIALS
                else "",
            )
        value = _string(doc, (*keypath, key), body[key])
        if key in CREDENTIALS:
            _credential(doc, keypath, group, name, key, value)
        else:
            _check_refs(doc, (*keypath, key), value)
        fields[key] = value
    return Server(name, **fields)


def _env(doc: YamlDocument, keypath: KeyPath, value: Any) -> str:
    env = expect(doc, keypath, value, str)
    if env not in ENVIRONMENTS:
        raise doc.error(
            keypath, f"unknown environment {env!r}", f"use one of {', '.join(ENVIRONMENTS)}"
        )
    return env


def _pick_server(
    doc: YamlDocument, keypath: KeyPath, body: dict, servers: dict[str, Server]
) -> Server:
    if "server" not in body:
        if len(servers) == 1:
            return next(iter(servers.values()))
        raise doc.error(keypath, "missing server", f"name one of: {', '.join(servers)}")
    name = expect(doc, (*keypath, "server"), body["server"], str)
    if name not in servers:
        near = suggestion(name, servers)
        raise doc.error(
            (*keypath, "server"),
            f"unknown server {name!r}",
            f"did you mean '{near}'?" if near else f"servers: {', '.join(servers)}",
        )
    return servers[name]


def _group(doc: YamlDocument, name: str, body: Any) -> SourceGroup:
    keypath: KeyPath = ("groups", name)
    expect(doc, keypath, body, dict)
    check_keys(doc, keypath, body, GROUP_KEYS)
    kind = optional(doc, keypath, body, "type", str, "mssql")
    if kind != "mssql":
        raise doc.error((*keypath, "type"), f"unsupported source type {kind!r}", "use mssql")
    pattern = optional(doc, keypath, body, "pattern", str, None)
    if pattern not in (PER_TENANT, SHARED):
        raise doc.error(
            (*keypath, "pattern"),
            f"pattern must be {PER_TENANT} or {SHARED}, got {describe(pattern)}",
        )
    raw_servers = optional(doc, keypath, body, "servers", dict, {})
    if not raw_servers:
        raise doc.error(keypath, "no servers", "add servers: {name: {host, port, user, password}}")
    servers = {
        str(n): _server(doc, (*keypath, "servers", str(n)), name, str(n), b)
        for n, b in raw_servers.items()
    }
    databases: list[Database] = []
    located: dict[int, KeyPath] = {}  # id(database) → where it is declared
    seen: dict[tuple[str, str, str], str] = {}

    def remember(db: Database, where: KeyPath) -> None:
        identity = (db.server.host, db.server.port, db.database.lower())
        if identity in seen:
            raise doc.error(
                where,
                f"reads the same database as {seen[identity]} ({db.database} on {db.server.name})",
                "each tenant needs its own database in db-per-tenant",
            )
        seen[identity] = ".".join(str(p) for p in where[-2:])
        databases.append(db)
        located[id(db)] = where

    if pattern == PER_TENANT:
        for key in ("tenant_column", "databases"):
            if key in body:
                raise doc.error(
                    (*keypath, key),
                    f"{key} belongs to db-shared groups",
                    "remove it, or set pattern: db-shared",
                )
        tenants = optional(doc, keypath, body, "tenants", dict, {})
        if not tenants:
            raise doc.error(keypath, "no tenants", "add tenants: {name: {database, env}}")
        for tenant, spec in tenants.items():
            tenant = str(tenant)
            where = (*keypath, "tenants", tenant)
            if not NAME.match(tenant):
                raise doc.error(
                    where, f"tenant name {tenant!r} has characters outside [A-Za-z0-9_.-]"
                )
            expect(doc, where, spec, dict)
            check_keys(doc, where, spec, TENANT_KEYS)
            database = optional(doc, where, spec, "database", str, None)
            if not database:
                raise doc.error(where, "missing database")
            customer_id = optional(doc, where, spec, "customer_id", str, None)
            if customer_id is not None and not UUID.match(customer_id):
                raise doc.error((*where, "customer_id"), f"{customer_id!r} is not a UUID")
            env = _env(doc, (*where, "env"), spec.get("env", "prod"))
            remember(
                Database(
                    tenant,
                    env,
                    _pick_server(doc, where, spec, servers),
                    database,
                    tenant,
                    customer_id,
                ),
                where,
            )
        group = SourceGroup(name, pattern, tuple(databases))
        _refuse_shared_outputs(
            doc,
            outputs.outputs_of_group(group),
            lambda db: located[id(db)],
            lambda db: f"tenant {db.key}",
            "rename one of the tenants",
        )
        return group

    tenant_column = optional(doc, keypath, body, "tenant_column", str, None)
    if not tenant_column:
        raise doc.error(
            keypath,
            "db-shared groups need tenant_column",
            "name the column that identifies the tenant",
        )
    raw_dbs = optional(doc, keypath, body, "databases", dict, {})
    if not raw_dbs:
        raise doc.error(keypath, "no databases", "add databases: {prod: {server, database}}")
    for env, spec in raw_dbs.items():
        where = (*keypath, "databases", str(env))
        _env(doc, where, str(env))
        expect(doc, where, spec, dict)
        check_keys(doc, where, spec, SHARED_DB_KEYS)
        database = optional(doc, where, spec, "database", str, None)
        if not database:
            raise doc.error(where, "missing database")
        remember(
            Database("shared", str(env), _pick_server(doc, where, spec, servers), database, None),
            where,
        )
    include = optional(doc, keypath, body, "tenants", list, [])
    values = []
    for index, value in enumerate(include):
        text = _string(doc, (*keypath, "tenants", index), value)
        if text in values:
            raise doc.error((*keypath, "tenants", index), f"tenant {text!r} is listed twice")
        values.append(text)
    return SourceGroup(name, pattern, tuple(databases), tenant_column, tuple(values))


@dataclass(frozen=True)
class SourceGroups:
    """`source-groups.yaml` read group by group: one broken group leaves the others usable."""

    display: str  # the file, as shown to people
    groups: dict[str, SourceGroup] = field(default_factory=dict)
    problems: dict[str, ConfigError] = field(default_factory=dict)  # group → its first problem
    file_problem: ConfigError | None = None  # the file as a whole cannot be read

    @property
    def names(self) -> list[str]:
        return [*self.groups, *self.problems]

    def all_problems(self) -> list[ConfigError]:
        return [self.file_problem] if self.file_problem else list(self.problems.values())

    def usable(self, name: str) -> bool:
        """Whether a pipeline naming `name` can be generated (an unknown name is the
        pipeline's own mistake, reported against it)."""
        return self.file_problem is None and name not in self.problems


def load_source_groups(project: Project) -> SourceGroups:
    path = project.root / SOURCE_GROUPS
    display = project.relative(path)
    if not path.exists():
        return SourceGroups(display)
    try:
        doc = load_yaml(path, display)
        data = doc.data if doc.data is not None else {}
        expect(doc, (), data, dict, "the top level holds groups:")
        check_keys(doc, (), data, ("groups",))
        raw = optional(doc, (), data, "groups", dict, {})
    except ConfigError as exc:
        return SourceGroups(display, file_problem=exc)
    groups: dict[str, SourceGroup] = {}
    problems: dict[str, ConfigError] = {}
    for name, body in raw.items():
        try:
            groups[str(name)] = _group(doc, str(name), body)
        except ConfigError as exc:
            problems[str(name)] = exc
    return SourceGroups(display, groups, problems)


def declared_group(project: Project, source: CdcSource) -> str | None:
    """The source group a pipeline's cdc section names, read without checking anything else
    (a pipeline file that does not read reports its own error when generated)."""
    try:
        body = load_yaml(source.file, project.relative(source.file)).data
    except ConfigError:
        return None
    for part in source.keypath:
        body = body.get(part) if isinstance(body, dict) else None
    group = body.get("source_group") if isinstance(body, dict) else None
    return str(group) if group is not None else None


def _column(doc: YamlDocument, keypath: KeyPath, name: str, body: Any) -> tuple[Column, bool]:
    """The column, and whether its nullability was given explicitly."""
    explicit = False
    target_type = None
    if isinstance(body, str):
        match = _COLUMN_SHORTHAND.match(body)
        type_text = match.group("type") if match else body
        null = match.group("null") if match else None
        nullable = not (null and null.lower().startswith("not"))
        explicit = null is not None
    else:
        expect(doc, keypath, body, dict, "write `type [not null]` or {type, nullable, target_type}")
        check_keys(doc, keypath, body, COLUMN_KEYS)
        type_text = optional(doc, keypath, body, "type", str, None)
        if not type_text:
            raise doc.error(keypath, "missing type")
        explicit = "nullable" in body
        nullable = optional(doc, keypath, body, "nullable", bool, True)
        target_type = optional(doc, keypath, body, "target_type", str, None)
    try:
        source_type = types.parse(type_text)
    except types.TypeProblem as exc:
        # target_type sets the PostgreSQL side only: how the value is read from SQL Server
        # still depends on a type that parses.
        raise doc.error(
            (*keypath, "type") if isinstance(body, dict) else keypath, str(exc)
        ) from None
    try:
        mapped = types.postgres_type(source_type)
    except types.TypeProblem as exc:
        if target_type is None:
            raise doc.error(keypath, str(exc)) from None
        mapped = target_type
    return Column(name, source_type, target_type or mapped, nullable), explicit


def _table(doc: YamlDocument, keypath: KeyPath, qualified: str, body: Any) -> Table:
    expect(doc, keypath, body, dict)
    check_keys(doc, keypath, body, TABLE_KEYS)
    schema, dot, name = qualified.partition(".")
    if not dot:
        schema, name = "dbo", qualified
    if not schema or not name:
        raise doc.error(keypath, f"{qualified!r} is not schema.Table")
    raw_columns = optional(doc, keypath, body, "columns", dict, {})
    if not raw_columns:
        raise doc.error(keypath, "no columns", "list them under columns: {Name: type}")
    columns: dict[str, Column] = {}
    explicit: dict[str, bool] = {}
    for column_name, spec in raw_columns.items():
        if isinstance(column_name, bool):
            raise doc.error((*keypath, "columns", str(column_name)), _YAML_BOOLEAN, _QUOTE_IT)
        column_name = str(column_name)
        where = (*keypath, "columns", column_name)
        problem = naming.pg_identifier_problem(column_name)
        if problem:
            raise doc.error(where, f"column name {problem}")
        columns[column_name], explicit[column_name] = _column(doc, where, column_name, spec)
    raw_key = body.get("primary_key")
    if raw_key in (None, [], ""):
        raise doc.error(
            keypath,
            f"table {qualified} has no primary_key",
            "CDC upserts and deletes by key: name its primary-key column(s)",
        )
    key = [raw_key] if isinstance(raw_key, str) else raw_key
    expect(doc, (*keypath, "primary_key"), key, list)
    for index, column_name in enumerate(key):
        where = (
            (*keypath, "primary_key")
            if isinstance(raw_key, str)
            else (*keypath, "primary_key", index)
        )
        if isinstance(column_name, bool):
            raise doc.error(where, _YAML_BOOLEAN, _QUOTE_IT)
        if column_name not in columns:
            near = suggestion(str(column_name), columns)
            raise doc.error(
                where,
                f"primary-key column {column_name!r} is not among the columns",
                f"did you mean '{near}'?" if near else "add it under columns:",
            )
        column = columns[column_name]
        if column.nullable and explicit[column_name]:
            raise doc.error(
                (*keypath, "columns", column_name),
                "a primary-key column cannot be nullable",
                "remove `nullable: true`",
            )
        columns[column_name] = Column(column.name, column.source_type, column.target_type, False)
    if len(set(key)) != len(key):
        raise doc.error((*keypath, "primary_key"), "lists a column twice")
    target = optional(doc, keypath, body, "target_table", str, None) or (
        naming.snake_case(name)
        if schema.lower() == "dbo"
        else f"{naming.snake_case(schema)}_{naming.snake_case(name)}"
    )
    problem = naming.pg_identifier_problem(target)
    if problem:
        raise doc.error(keypath, f"target table name {target!r} {problem}", "set target_table")
    capture = optional(doc, keypath, body, "capture_instance", str, f"{schema}_{name}")
    history = optional(doc, keypath, body, "history", bool, False)
    if history:
        from dataplatform.warehouse.names import LONGEST_SUFFIX

        problem = naming.pg_identifier_problem(target + LONGEST_SUFFIX)
        if problem:
            raise doc.error(
                (*keypath, "history"),
                f"its history table name {target + LONGEST_SUFFIX!r} {problem}",
                "set a shorter target_table",
            )
    return Table(schema, name, tuple(columns.values()), tuple(key), capture, target, history)


def _refuse_shared_outputs(
    doc: YamlDocument,
    produced: Iterable[tuple[outputs.Output, T]],
    where: Callable[[T], KeyPath],
    describe_input: Callable[[T], str],
    fix: str,
    reserved: dict[tuple[str, str], str] | None = None,
) -> None:
    """Two inputs that would become one output name: an error at the second, naming the
    first with its line and the output as the user will see it."""
    collision = outputs.first_collision(produced, reserved)
    if collision is None:
        return
    output, first, second = collision
    if isinstance(first, str):  # a name the generator itself takes
        raise doc.error(
            where(second), f"{describe_input(second)} becomes {output}, which is {first}", fix
        )
    line = doc.line(where(first))
    raise doc.error(
        where(second),
        f"{describe_input(second)} and {describe_input(first)}"
        f"{f' (line {line})' if line else ''} both become {output}",
        fix,
    )


def _check_collisions(
    doc: YamlDocument, pipeline: CdcPipeline, tables: list[tuple[KeyPath, Table]]
) -> None:
    located = {id(table): keypath for keypath, table in tables}
    _refuse_shared_outputs(
        doc,
        outputs.outputs_of_pipeline(pipeline),
        lambda t: located[id(t)],
        lambda t: t.qualified,
        "rename one, or set target_table",
        outputs.reserved_outputs(pipeline),
    )
    for keypath, table in tables:
        for env in pipeline.group.environments:
            topic = outputs.topic(pipeline.name, env, table)
            if len(topic) > naming.TOPIC_MAX:
                raise doc.error(
                    keypath,
                    f"topic {topic[:40]}… is {len(topic)} characters; "
                    f"Kafka allows {naming.TOPIC_MAX}",
                )


def parse_pipeline(
    doc: YamlDocument, keypath: KeyPath, pipeline: str, source_groups: SourceGroups
) -> CdcPipeline:
    body = doc.data
    for part in keypath:
        body = body[part]
    expect(doc, keypath, body, dict, "give source_group, target_schema and tables")
    check_keys(doc, keypath, body, PIPELINE_KEYS)
    groups_display = source_groups.display
    group_name = optional(doc, keypath, body, "source_group", str, None)
    if not group_name:
        raise doc.error(keypath, "missing source_group", f"name a group of {groups_display}")
    if source_groups.file_problem:
        raise source_groups.file_problem
    if group_name in source_groups.problems:
        raise source_groups.problems[group_name]
    if group_name not in source_groups.groups:
        near = suggestion(group_name, source_groups.names)
        raise doc.error(
            (*keypath, "source_group"),
            f"unknown source group {group_name!r}",
            f"did you mean '{near}'?"
            if near
            else f"groups in {groups_display}: {', '.join(source_groups.names) or 'none'}",
        )
    group = source_groups.groups[group_name]
    target_schema = optional(
        doc, keypath, body, "target_schema", str, None
    ) or default_landing_schema(pipeline)
    problem = naming.pg_identifier_problem(target_schema) or landing_schema_problem(
        target_schema, pipeline
    )
    if problem:
        raise doc.error((*keypath, "target_schema"), f"schema name {problem}")
    tenant_column = optional(doc, keypath, body, "tenant_column", str, None)
    if group.pattern == SHARED:
        if tenant_column and tenant_column != group.tenant_column:
            raise doc.error(
                (*keypath, "tenant_column"),
                f"{group_name} is db-shared: its "
                f"tenant column is {group.tenant_column!r}, set in {groups_display}",
            )
        tenant_column = group.tenant_column
    tenant_column = tenant_column or "tenant_id"
    raw_tables = optional(doc, keypath, body, "tables", dict, {})
    if not raw_tables:
        raise doc.error(keypath, "no tables", "list them under tables: {schema.Table: {...}}")
    tables: list[tuple[KeyPath, Table]] = []
    for qualified, spec in raw_tables.items():
        where = (*keypath, "tables", str(qualified))
        table = _table(doc, where, str(qualified), spec)
        names = [c.name for c in table.columns]
        if group.pattern == SHARED and tenant_column not in names:
            raise doc.error(
                (*where, "columns"),
                f"the tenant column {tenant_column!r} of "
                f"db-shared group {group_name} is not among the columns",
                "add it, typed as in SQL Server",
            )
        if group.pattern == PER_TENANT and tenant_column in names:
            raise doc.error(
                (*where, "columns"),
                f"column {tenant_column!r} clashes with the tenant column added to every table",
                "set cdc.tenant_column to another name",
            )
        tables.append((where, table))
    result = CdcPipeline(
        pipeline, group, target_schema, tenant_column, tuple(t for _, t in tables), doc.display
    )
    _check_collisions(doc, result, tables)
    return result


def table_keypath(doc: YamlDocument, keypath: KeyPath, table: Table) -> KeyPath:
    """Where `table` is declared in its pipeline's document (`dbo.` may be left out)."""
    for key in (table.qualified, table.name):
        if (*keypath, "tables", key) in doc.lines:
            return (*keypath, "tables", key)
    return (*keypath, "tables")


def refuse_relations_of_others(
    doc: YamlDocument, keypath: KeyPath, pipeline: CdcPipeline, holder: Callable[[str], str | None]
) -> None:
    """A PostgreSQL relation another pipeline already writes is an error. `holder` names the
    input of another pipeline that writes a relation (as compared), or None."""
    for output, table in outputs.outputs_of_pipeline(pipeline):
        if output.kind != outputs.RELATION:
            continue
        other = holder(output.key[1])
        if other:
            raise doc.error(
                table_keypath(doc, keypath, table),
                f"{table.qualified} and {other} both become {output}",
                "set another target_schema or target_table",
            )
