"""Declared warehouse tables on a real PostgreSQL: the generated SQL applied to a throwaway
cluster keeps system-time history (as_of at each instant, one history row per transaction,
ignored columns), bronze refuses UPDATE/DELETE, a CDC replica with history keeps a deleted
row's past; and `doit warehouse:<p>`: bad input is one line with nothing written, a no-op run
does nothing, a change rewrites only what changed."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import types
from pathlib import Path

import psycopg
import pytest
import yaml

from dataplatform.config.yamlsource import parse_yaml
from dataplatform.warehouse import render, spec
from dataplatform.warehouse.objects import OBJECTS_FILE, PipelineObjects
from support import REPO, TempProject, copy_from_checkout, executed
from support.cdc import apply_change, apply_warehouse, render_example, render_warehouse

OUT = "generated/warehouse"

TABLES = """
tables:
  - name: account
    layer: silver
    key: [id]
    columns:
      id: integer
      name: text not null
      balance: {type: "numeric(12,2)", default: 0}
      checked_at: timestamptz
    history_ignore: [checked_at]
  - name: landing
    layer: bronze
    columns:
      payload: jsonb not null
  - name: revenue
    layer: gold
    key: [month]
    columns:
      month: date
      amount: numeric(12,2)
"""


def files_of(text: str, schema: str = "wh") -> dict[str, str]:
    doc = parse_yaml(textwrap.dedent(text), "tables.yaml")
    declared = spec.parse(doc, (), doc.data, "p", schema)
    objects = render.build("p", render.declared_tables(declared), REPO)
    return render.sql_files(objects)


@pytest.fixture
def db(pg_database):
    server, name = pg_database
    with server.connect(name) as conn:
        apply_warehouse(conn, files_of(TABLES))
        yield conn


def clock(conn) -> object:
    """An instant between two transactions (each statement here commits on its own)."""
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def as_of(conn, at, table: str = "account") -> list[tuple]:
    return conn.execute(
        f"SELECT id, name, balance::text FROM wh.{table}_as_of(%s) ORDER BY id", (at,)
    ).fetchall()


def history_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM wh.account_history").fetchone()[0]


@pytest.mark.postgres
def test_history_insert_update_twice_delete_reinsert_as_of_each_instant(db) -> None:
    before = clock(db)
    db.execute("INSERT INTO wh.account (id, name, balance) VALUES (1, 'Ada', 10)")
    inserted = clock(db)
    db.execute("UPDATE wh.account SET balance = 20 WHERE id = 1")
    updated = clock(db)
    db.execute("UPDATE wh.account SET name = 'Ada L' WHERE id = 1")
    renamed = clock(db)
    db.execute("DELETE FROM wh.account WHERE id = 1")
    deleted = clock(db)
    db.execute("INSERT INTO wh.account (id, name, balance) VALUES (1, 'Ada again', 5)")
    again = clock(db)
    assert as_of(db, before) == []
    assert as_of(db, inserted) == [(1, "Ada", "10.00")]
    assert as_of(db, updated) == [(1, "Ada", "20.00")]
    assert as_of(db, renamed) == [(1, "Ada L", "20.00")]
    assert as_of(db, deleted) == []
    assert as_of(db, again) == [(1, "Ada again", "5.00")]
    assert history_count(db) == 3
    # the versions tile time: each history range ends where the next one starts
    ranges = db.execute(
        "SELECT lower(sys_period), upper(sys_period) FROM wh.account_history "
        "ORDER BY lower(sys_period)"
    ).fetchall()
    assert ranges[0][1] == ranges[1][0] and ranges[1][1] == ranges[2][0]


@pytest.mark.postgres
def test_several_updates_in_one_transaction_leave_one_history_row(db) -> None:
    db.execute("INSERT INTO wh.account (id, name, balance) VALUES (1, 'Ada', 10), (2, 'Bo', 1)")
    with db.transaction():
        for amount in (11, 12, 13):
            db.execute("UPDATE wh.account SET balance = %s WHERE id = 1", (amount,))
        # a row made in this transaction and changed in it too leaves no history at all
        db.execute("INSERT INTO wh.account (id, name) VALUES (3, 'Cy')")
        db.execute("UPDATE wh.account SET name = 'Cyril' WHERE id = 3")
        db.execute("DELETE FROM wh.account WHERE id = 3")
    rows = db.execute(
        "SELECT id, balance::text, isempty(sys_period) FROM wh.account_history"
    ).fetchall()
    assert rows == [(1, "10.00", False)]
    assert as_of(db, clock(db)) == [(1, "Ada", "13.00"), (2, "Bo", "1.00")]


@pytest.mark.postgres
def test_a_changed_key_keeps_the_old_keys_version(db) -> None:
    db.execute("INSERT INTO wh.account (id, name) VALUES (1, 'Ada'), (2, 'Bo')")
    before = clock(db)
    db.execute("UPDATE wh.account SET id = id + 10")
    after = clock(db)
    assert as_of(db, before) == [(1, "Ada", "0.00"), (2, "Bo", "0.00")]
    assert as_of(db, after) == [(11, "Ada", "0.00"), (12, "Bo", "0.00")]


@pytest.mark.postgres
def test_updates_touching_only_ignored_columns_leave_no_history(db) -> None:
    db.execute("INSERT INTO wh.account (id, name) VALUES (1, 'Ada')")
    start = db.execute("SELECT sys_period FROM wh.account").fetchone()[0]
    db.execute("UPDATE wh.account SET checked_at = now()")
    db.execute("UPDATE wh.account SET name = name")  # no value changed: no version either
    assert history_count(db) == 0
    assert db.execute("SELECT sys_period FROM wh.account").fetchone()[0] == start
    db.execute("UPDATE wh.account SET checked_at = now(), name = 'Ada L'")
    assert history_count(db) == 1


@pytest.mark.postgres
def test_column_names_like_the_generated_codes_own_words_work(pg_database) -> None:
    """`at`, `n`, `o`, `old_rows`, `User`: names the trigger and as_of use or SQL reserves."""
    server, name = pg_database
    columns = ["at", "n", "o", "old_rows", "User"]
    files = files_of(
        "tables:\n  - name: odd\n    layer: silver\n    key: [o]\n    columns:\n"
        + "".join(f'      "{c}": text\n' for c in columns)
    )
    with server.connect(name) as conn:
        apply_warehouse(conn, files)
        conn.execute("""INSERT INTO wh.odd VALUES ('a', 'b', 'k', 'd', 'e')""")
        inserted = clock(conn)
        conn.execute("""UPDATE wh.odd SET "User" = 'f'""")
        rows = conn.execute("SELECT * FROM wh.odd_as_of(%s)", (inserted,)).fetchall()
    assert [r[:5] for r in rows] == [("a", "b", "k", "d", "e")]


@pytest.mark.postgres
def test_bronze_is_append_only_with_a_clear_message(db) -> None:
    db.execute("""INSERT INTO wh.landing (payload, _source) VALUES ('{"a": 1}', 'api')""")
    row = db.execute("SELECT _ingested_at IS NOT NULL, _source FROM wh.landing").fetchone()
    assert row == (True, "api")
    for statement, verb in (
        ("UPDATE wh.landing SET _batch_id = 'x'", "UPDATE"),
        ("DELETE FROM wh.landing", "DELETE"),
    ):
        with pytest.raises(psycopg.errors.RestrictViolation) as caught:
            db.execute(statement)
        assert (
            str(caught.value).splitlines()[0]
            == f"table wh.landing is append-only (bronze): {verb} is not allowed"
        )
    assert db.execute("SELECT count(*) FROM wh.landing").fetchone()[0] == 1


@pytest.mark.postgres
def test_gold_rows_say_when_they_were_refreshed(db) -> None:
    db.execute("INSERT INTO wh.revenue (month, amount) VALUES ('2026-11-01', 5)")
    assert db.execute("SELECT _refreshed_at IS NOT NULL FROM wh.revenue").fetchone() == (True,)
    db.execute("UPDATE wh.revenue SET amount = 6")  # gold is rebuilt: updates are fine


@pytest.mark.postgres
def test_generated_sql_applies_twice_and_objects_json_names_every_file(pg_database) -> None:
    """The example pipeline's folder: re-applying changes nothing and does not fail, and
    objects.json round-trips and holds one object per .sql file."""
    files = render_warehouse("erp_cdc")
    objects = PipelineObjects.from_json(files[OBJECTS_FILE])
    assert PipelineObjects.from_json(objects.to_json()) == objects
    assert len(objects.objects) == len([p for p in files if p.endswith(".sql")])
    for path, text in files.items():
        if path.endswith(".sql"):
            assert text.startswith("-- generated from pipelines/erp_cdc/config/"), path
    server, name = pg_database
    with server.connect(name) as conn:
        for _ in range(2):
            apply_warehouse(conn, files)
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'erp'"
            )
        }
    assert tables == {
        "_cdc_checkpoint",
        "gl_entry",
        "account",
        "account_history",
        "account_balance",
        "account_balance_history",
        "monthly_revenue",
    }


def account_change(op: str, at: int, name: str) -> dict:
    return {
        "op": op,
        "lsn": "0x" + f"{at:020X}",
        "seq": "0x" + f"{1:020X}",
        "commit_time": "2026-11-20T10:00:00.123",
        "tenant": "205",
        "source": {"table": "dbo.Account"},
        "after": {"CompanyId": 205, "AccountNo": "3000", "Name": name, "Blocked": False},
    }


@pytest.mark.postgres
def test_a_cdc_replica_with_history_keeps_a_deleted_rows_past(pg_database) -> None:
    """erp_cdc's dbo.Account has `history: true`: changes applied through the sink's own
    statement; the tombstone of a delete is a version, and as_of shows live rows only."""
    sink = yaml.safe_load(render_example("erp_cdc")["prod/sink.yaml"])
    server, name = pg_database
    with server.connect(name) as conn:
        apply_warehouse(conn, render_warehouse("erp_cdc"))
        apply_change(conn, sink, account_change("c", 10, "Sales"))
        created = clock(conn)
        apply_change(conn, sink, account_change("u", 11, "Sales, domestic"))
        apply_change(conn, sink, account_change("u", 11, "Sales, domestic"))  # redelivered
        renamed = clock(conn)
        apply_change(conn, sink, account_change("d", 12, "Sales, domestic"))
        deleted = clock(conn)

        def names_at(at) -> list[str]:
            return [r[0] for r in conn.execute('SELECT "Name" FROM erp.account_as_of(%s)', (at,))]

        assert names_at(created) == ["Sales"]
        assert names_at(renamed) == ["Sales, domestic"]
        assert names_at(deleted) == []
        history = conn.execute(
            'SELECT "Name", "__cdc_operation" FROM erp.account_history ORDER BY lower(sys_period)'
        ).fetchall()
        assert history == [("Sales", "c"), ("Sales, domestic", "u")]


@pytest.mark.postgres
def test_the_orchestration_ddl_step_applies_the_warehouse_folder(
    pg_database, tmp_path, monkeypatch
) -> None:
    """The generated DAG helper's `apply_cdc_ddl` against the throwaway cluster. It imports
    psycopg2 (what the Airflow/Dagster environments have); this venv has psycopg 3 only, so
    a module named psycopg2 forwarding `connect` to psycopg stands in for it."""
    from dataplatform.orchestration import generate as orchestration
    from dataplatform.orchestration.spec import Orchestration
    from dataplatform.project import Project

    for part in ("templates", "platform/cdc", "pipelines/erp_cdc"):
        copy_from_checkout(part, tmp_path)
    folder = tmp_path / "pipelines/erp_cdc" / OUT
    folder.mkdir(parents=True)
    for path, text in render_warehouse("erp_cdc", tmp_path).items():
        (folder / path).write_text(text)
    spec_ = Orchestration(
        engine="airflow",
        dag_id="erp",
        schedule=None,
        owner="o",
        tags=(),
        retries=0,
        retry_delay_seconds=0,
        start_date="2026-01-01",
        catchup=False,
        dbt=False,
        cdc_ddl=None,
        tasks=(),
    )
    dag = orchestration.render(Project(tmp_path), "erp_cdc", "", spec_, True)["erp_cdc_dag.py"]
    assert '"generated/warehouse"' in dag
    end = dag.index("return len(outcome.executed)") + len("return len(outcome.executed)")
    helper = "import os\nfrom pathlib import Path\n" + dag[dag.index("PIPELINE = ") : end] + "\n"
    server, name = pg_database
    shim = types.ModuleType("psycopg2")
    shim.connect = lambda **kw: psycopg.connect(
        host=kw["host"], port=kw["port"], user=kw["user"], dbname=kw["dbname"]
    )
    monkeypatch.setitem(sys.modules, "psycopg2", shim)
    for key, value in {
        "POSTGRES_HOST": server.host,
        "POSTGRES_PORT": str(server.port),
        "POSTGRES_USER": server.user,
        "POSTGRES_DB": name,
        "DATAPLATFORM_ROOT": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    module_file = tmp_path / "paths_module.py"
    module_file.write_text(helper)
    loaded = importlib.util.spec_from_file_location("paths_module", module_file)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    assert module.apply_cdc_ddl() == len(list(folder.glob("*.sql")))
    with server.connect(name) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM information_schema.triggers WHERE event_object_schema = 'erp'"
            ).fetchone()[0]
            == 6
        )


# ---------------------------------------------------------------- doit warehouse:<p>


def snapshot(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.glob(f"pipelines/*/{OUT}/**/*")
        if p.is_file()
    }


@pytest.fixture
def wh_project(project: TempProject) -> TempProject:
    for part in ("platform/cdc", "pipelines/erp_cdc", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    first = project.doit("warehouse")
    assert first.returncode == 0, first.stdout + first.stderr
    assert executed(first) == ["cdc:erp_cdc", "warehouse:erp_cdc"]
    return project


def test_doit_generates_the_example_and_a_no_op_does_nothing(wh_project: TempProject) -> None:
    folder = wh_project.root / "pipelines/erp_cdc" / OUT
    assert (folder / "40_trigger_erp.account_balance_version_update.sql").is_file()
    assert (folder / "40_trigger_erp.account_version_delete.sql").is_file()
    assert not (wh_project.root / "pipelines/erp_cdc/generated/cdc/ddl").exists()
    before = snapshot(wh_project.root)
    again = wh_project.doit("warehouse")
    assert again.returncode == 0 and executed(again) == []
    assert snapshot(wh_project.root) == before


def test_a_comment_only_change_rewrites_nothing(wh_project: TempProject) -> None:
    tables = wh_project.root / "pipelines/erp_cdc/config/tables.yaml"
    before = snapshot(wh_project.root)
    tables.write_text(tables.read_text() + "# reviewed by finance\n")
    result = wh_project.doit("warehouse")
    # the YAML says what it said: the generator does not even run, nothing is rewritten
    assert executed(result) == [], result.stdout
    after = snapshot(wh_project.root)
    assert [p for p in after if after[p] != before[p]] == []
    assert executed(wh_project.doit("warehouse")) == []


def test_a_change_rewrites_only_what_changed_and_removes_stale_files(
    wh_project: TempProject,
) -> None:
    tables = wh_project.root / "pipelines/erp_cdc/config/tables.yaml"
    before = snapshot(wh_project.root)
    tables.write_text(tables.read_text().replace("currency: char(3)\n", ""))
    result = wh_project.doit("warehouse")
    assert result.returncode == 0, result.stdout + result.stderr
    after = snapshot(wh_project.root)
    prefix = f"pipelines/erp_cdc/{OUT}/"
    assert sorted(p for p in after if after[p] != before.get(p)) == [
        prefix + "20_table_erp.monthly_revenue.sql",
        prefix + "manifest.json",
        prefix + OBJECTS_FILE,
    ]
    tables.unlink()
    result = wh_project.doit("warehouse")
    assert result.returncode == 0, result.stdout + result.stderr
    left = {Path(p).name for p in snapshot(wh_project.root)}
    assert not any("account_balance" in n or "monthly_revenue" in n for n in left)
    assert "20_table_erp.account_history.sql" in left  # the replica's history stays


def test_an_edited_generated_file_is_regenerated(wh_project: TempProject) -> None:
    path = wh_project.root / "pipelines/erp_cdc" / OUT / "10_schema_erp.sql"
    original = path.read_text()
    path.write_text("-- edited by hand\n")
    result = wh_project.doit("warehouse")
    assert executed(result) == ["warehouse:erp_cdc"]
    assert path.read_text() == original


BAD_INPUT = [
    (
        "layer: silver",
        "layer: sliver",
        "pipelines/erp_cdc/config/tables.yaml:8: tables[0].layer: unknown layer 'sliver' "
        "— did you mean 'silver'?",
    ),
    (
        "key: [CompanyId, AccountNo]",
        "key: [CompanyId, AcountNo]",
        "pipelines/erp_cdc/config/tables.yaml:9: tables[0].key[1]: 'AcountNo' is not among the "
        "table's columns — did you mean 'AccountNo'?",
    ),
    (
        "    key: [CompanyId, AccountNo]\n",
        "",
        "pipelines/erp_cdc/config/tables.yaml:7: tables[0]: silver table erp.account_balance has "
        "no key — name its key column(s), e.g. key: [id] (history is kept per key)",
    ),
    (
        "revenue: numeric(38,2) not null",
        "revenue: numeric(38,2 not null",
        "pipelines/erp_cdc/config/tables.yaml:24: tables[1].columns.revenue: 'numeric(38,2' is "
        "not a PostgreSQL type name — write a PostgreSQL type, e.g. text, varchar(60), "
        "numeric(12,2), timestamptz",
    ),
    (
        "layer: gold",
        "layer: bronze\n    history: true",
        "pipelines/erp_cdc/config/tables.yaml:20: tables[1].history: history is for silver tables "
        "(and CDC replicas); a bronze table is append-only: its rows never change — use layer: "
        "silver, or remove history",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    BAD_INPUT,
    ids=[
        "unknown layer",
        "key column unknown",
        "key missing",
        "malformed type",
        "history on bronze",
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    wh_project: TempProject, old: str, new: str, expected: str
) -> None:
    tables = wh_project.root / "pipelines/erp_cdc/config/tables.yaml"
    assert old in tables.read_text()
    tables.write_text(tables.read_text().replace(old, new, 1))
    before = snapshot(wh_project.root)
    result = wh_project.doit("warehouse")
    assert result.returncode != 0
    failures = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "warehouse:erp_cdc:" in line and "written" not in line
    ]
    assert failures == [f"✗ warehouse:erp_cdc: {expected}"], result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert snapshot(wh_project.root) == before


def test_a_table_named_like_a_replicas_history_is_one_line(wh_project: TempProject) -> None:
    tables = wh_project.root / "pipelines/erp_cdc/config/tables.yaml"
    tables.write_text(tables.read_text().replace("name: monthly_revenue", "name: account_history"))
    result = wh_project.doit("warehouse")
    assert result.returncode != 0
    assert (
        "✗ warehouse:erp_cdc: pipelines/erp_cdc/config/tables.yaml:18: gold table "
        "erp.account_history: the name is already the history table of the CDC replica "
        "erp.account (pipelines/erp_cdc/config/cdc.yaml:14) — rename one of them"
    ) in result.stdout.splitlines(), result.stdout


def test_tables_in_both_places_is_one_line_naming_both(project: TempProject) -> None:
    project.write(
        "pipelines/sales/pipeline.yaml",
        textwrap.dedent("""\
        name: sales
        warehouse:
          tables:
            - {name: orders, layer: gold, columns: {id: integer}}
        """),
    )
    project.write(
        "pipelines/sales/config/tables.yaml",
        "tables:\n  - {name: other, layer: gold, columns: {id: integer}}\n",
    )
    result = project.doit("warehouse")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert (
        "✗ warehouse:sales: pipelines/sales/pipeline.yaml:2: warehouse: "
        "pipelines/sales/config/tables.yaml declares the pipeline's warehouse tables too — "
        "keep one of them"
    ) in out.splitlines(), out
    assert not (project.root / "pipelines/sales" / OUT).exists()


def test_a_pipeline_without_cdc_gets_its_own_schema(project: TempProject) -> None:
    project.write(
        "pipelines/sales/pipeline.yaml",
        textwrap.dedent("""\
        name: sales
        warehouse:
          tables:
            - name: orders
              layer: silver
              key: id
              columns: {id: bigint, status: text}
        """),
    )
    result = project.doit("warehouse")
    assert result.returncode == 0, result.stdout + result.stderr
    objects = PipelineObjects.read(project.root / "pipelines/sales" / OUT / OBJECTS_FILE)
    assert {o.id for o in objects.objects} == {
        "schema:sales",
        "table:sales.orders",
        "table:sales.orders_history",
        "function:sales.orders_versioning",
        "function:sales.orders_as_of",
        "trigger:sales.orders_version_stamp",
        "trigger:sales.orders_version_update",
        "trigger:sales.orders_version_delete",
    }
    table = next(o for o in objects.objects if o.id == "table:sales.orders")
    assert [c.name for c in table.columns] == ["id", "status", "sys_period"]
    assert table.key == ("id",) and table.declared_in == "pipelines/sales/pipeline.yaml:4"
