"""Apply pipelines' warehouse objects to a PostgreSQL and keep the deploy ledger.

`plan_all` reads the catalog and the ledger once, asks the server about the declared types,
and plans every pipeline, inside a transaction it rolls back: it never changes anything (not
even the ledger, which it does not create). `deploy` plans first (so a refusal or a bad type
stops it before any pipeline changes), then for each pipeline with something to do runs ONE
transaction: `pg_advisory_xact_lock` (a concurrent deploy waits here, then re-plans against
what the first one committed), re-plan, the steps, a fresh read of the catalog, and the ledger
rows of `_platform.deployments` (created on first deploy): per object the sha256 of its DDL and
the catalog fingerprint after the deploy. A failed step rolls the whole pipeline back.

Only DB-API calls are used (`cursor()`, `execute`, `fetchall`, `commit`, `rollback`; `%s`
parameters), so this runs with psycopg 3 and with psycopg2 in the orchestrator containers;
it imports nothing beyond the standard library and this package's warehouse modules.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dataplatform.errors import UserError
from dataplatform.warehouse import observe
from dataplatform.warehouse.layout import OUTPUT
from dataplatform.warehouse.objects import OBJECTS_FILE, PipelineObjects
from dataplatform.warehouse.plan import Plan, Step, plan, type_requests

LEDGER_DDL = (
    "CREATE SCHEMA IF NOT EXISTS _platform",
    """CREATE TABLE IF NOT EXISTS _platform.deployments (
    pipeline text NOT NULL,
    object_id text NOT NULL,
    kind text NOT NULL,
    schema_name text NOT NULL,
    object_name text NOT NULL,
    table_name text,
    sha256 text NOT NULL,
    fingerprint text,
    env text NOT NULL,
    deployed_at timestamptz NOT NULL DEFAULT now(),
    deployed_by text NOT NULL,
    PRIMARY KEY (pipeline, object_id)
)""",
    "COMMENT ON TABLE _platform.deployments IS 'What invoke db.deploy applied: per pipeline "
    "and object the sha256 of its DDL and the catalog fingerprint right after (a different "
    "fingerprint now means the object was changed by hand)'",
)
# One key for every deploy to a database: deploys (of any pipeline) run one at a time.
LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"dataplatform.warehouse.deploy").digest()[:8], "big", signed=True
)


def objects_file(pipeline_dir: Path) -> Path:
    return pipeline_dir / OUTPUT / OBJECTS_FILE


def load(pipeline_dir: Path) -> PipelineObjects:
    """A pipeline's generated objects; a UserError saying to run doit when there are none."""
    path = objects_file(pipeline_dir)
    name = pipeline_dir.name
    try:
        return PipelineObjects.read(path)
    except FileNotFoundError:
        raise UserError(
            f"pipelines/{name}: no {OUTPUT.as_posix()}/{OBJECTS_FILE} — run doit "
            f"first (doit warehouse:{name})"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"pipelines/{name}/{OUTPUT.as_posix()}/{OBJECTS_FILE} is not readable "
            f"({exc}) — run doit again to regenerate it"
        ) from None


@dataclass(frozen=True)
class Outcome:
    pipeline: str
    plan: Plan
    executed: tuple[Step, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return self.plan.up_to_date


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _schemas(desired: Sequence[PipelineObjects], rows: Sequence[observe.LedgerRow]) -> set[str]:
    names = {o.schema if o.kind != "schema" else o.name for p in desired for o in p.objects}
    pipelines = {p.pipeline for p in desired}
    names |= {r.schema for r in rows if r.pipeline in pipelines}
    return names


def _transactional(connection) -> None:
    if getattr(connection, "autocommit", False):
        raise ValueError(
            "the deployer needs a connection with autocommit off: a deploy is "
            "one transaction per pipeline"
        )


def _plan_in_transaction(
    cursor, desired: Sequence[PipelineObjects], allow_destructive: bool
) -> list[Plan]:
    rows = observe.ledger(cursor)
    catalog = observe.catalog(cursor, _schemas(desired, rows))
    wanted: set[tuple[str, str | None]] = set()
    for pipeline in desired:
        wanted |= type_requests(pipeline, catalog, rows)
    types = observe.resolve_types(cursor, wanted)
    return [plan(p, catalog, rows, types, allow_destructive) for p in desired]


def plan_all(
    connection, desired: Sequence[PipelineObjects], allow_destructive: bool = False
) -> list[Plan]:
    """Plan every pipeline against the database; changes nothing (rolls back)."""
    _transactional(connection)
    cursor = connection.cursor()
    try:
        return _plan_in_transaction(cursor, desired, allow_destructive)
    finally:
        connection.rollback()
        cursor.close()


class Refused(UserError):
    """A destructive change asked for without --allow-destructive; nothing was changed."""


def _refuse(plans: Sequence[Plan]) -> None:
    refusals = [line for p in plans for line in p.refusals]
    if refusals:
        more = (
            f" (and {len(refusals) - 1} more: invoke db.plan lists them)"
            if len(refusals) > 1
            else ""
        )
        raise Refused(refusals[0] + more + "; nothing was changed")


def deploy(
    connection,
    desired: Sequence[PipelineObjects],
    allow_destructive: bool = False,
    env: str = "dev",
    actor: str | None = None,
    log: Callable[[str, Step], None] = lambda pipeline, step: None,
    announce: Callable[[Plan], None] = lambda plan: None,
) -> list[Outcome]:
    """Make the database match `desired`, one transaction per pipeline (see the module
    docstring). `announce(plan)` is called before a pipeline's transaction runs its steps,
    `log(pipeline, step)` after each step ran."""
    actor = actor or default_actor()
    plans = plan_all(connection, desired, allow_destructive)
    _refuse(plans)
    outcomes = []
    for pipeline, first in zip(desired, plans, strict=True):
        if first.up_to_date:
            outcomes.append(Outcome(pipeline.pipeline, first))
            continue
        outcomes.append(
            _deploy_pipeline(connection, pipeline, allow_destructive, env, actor, log, announce)
        )
    return outcomes


def _deploy_pipeline(
    connection,
    desired: PipelineObjects,
    allow_destructive: bool,
    env: str,
    actor: str,
    log: Callable[[str, Step], None],
    announce: Callable[[Plan], None],
) -> Outcome:
    cursor = connection.cursor()
    committed = False
    try:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        current = _plan_in_transaction(cursor, [desired], allow_destructive)[0]
        _refuse([current])
        if current.up_to_date:  # a concurrent deploy did it meanwhile
            return Outcome(desired.pipeline, current)
        announce(current)
        for statement in LEDGER_DDL:
            cursor.execute(statement)
        executed = []
        for step in current.statements:
            try:
                cursor.execute(step.sql)
            except Exception as exc:
                raise UserError(
                    f"{desired.pipeline}: {step.action} ({step.detail}) failed: "
                    f"{_server_message(exc)} — nothing was changed (the pipeline's "
                    "deploy was rolled back)"
                ) from None
            executed.append(step)
            log(desired.pipeline, step)
        _record(cursor, desired, current, env, actor)
        connection.commit()
        committed = True
        return Outcome(desired.pipeline, current, tuple(executed))
    finally:
        if not committed:
            connection.rollback()
        cursor.close()


def _server_message(exc: Exception) -> str:
    """The server's error and its DETAIL on one line, with what to do when a view stands in
    the way (PostgreSQL cannot change a column type a view uses)."""
    lines = [" ".join(line.split()) for line in str(exc).strip().splitlines()]
    kept = [line for line in lines if line and not line.startswith(("LINE ", "^"))]
    message = "; ".join(kept) or type(exc).__name__
    if "used by a view" in message:
        message += " — drop that view (dbt run creates it again) and deploy again"
    return message


def _record(cursor, desired: PipelineObjects, done: Plan, env: str, actor: str) -> None:
    """Ledger rows: forget dropped objects; (re)write every object whose DDL sha or catalog
    fingerprint differs from its row; untouched rows stay as they were."""
    rows = {r.object_id: r for r in observe.ledger(cursor) if r.pipeline == desired.pipeline}
    after = observe.catalog(cursor, _schemas([desired], list(rows.values())))
    wanted = {o.id for o in desired.objects}
    for object_id in done.forget:
        if object_id not in wanted:
            cursor.execute(
                "DELETE FROM _platform.deployments WHERE pipeline = %s AND object_id = %s",
                [desired.pipeline, object_id],
            )
    for obj in desired.objects:
        fingerprint = after.fingerprint(obj.kind, obj.schema, obj.name, obj.table)
        row = rows.get(obj.id)
        if row is not None and row.sha256 == obj.sha256 and row.fingerprint == fingerprint:
            continue
        cursor.execute(
            """INSERT INTO _platform.deployments AS d (pipeline, object_id, kind, schema_name,
                   object_name, table_name, sha256, fingerprint, env, deployed_at, deployed_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)
               ON CONFLICT (pipeline, object_id) DO UPDATE SET
                   kind = EXCLUDED.kind, schema_name = EXCLUDED.schema_name,
                   object_name = EXCLUDED.object_name, table_name = EXCLUDED.table_name,
                   sha256 = EXCLUDED.sha256, fingerprint = EXCLUDED.fingerprint,
                   env = EXCLUDED.env, deployed_at = now(), deployed_by = EXCLUDED.deployed_by""",
            [
                desired.pipeline,
                obj.id,
                obj.kind,
                obj.schema if obj.kind != "schema" else obj.name,
                obj.name,
                obj.table,
                obj.sha256,
                fingerprint,
                env,
                actor,
            ],
        )
