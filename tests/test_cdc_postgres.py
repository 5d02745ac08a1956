"""Generated DDL and sink statements on a real PostgreSQL: every DDL file applies (twice),
and changes applied through the sink's own statements leave exactly the expected rows."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import yaml

from support import copy_from_checkout
from support.cdc import (
    add_reserved_word_columns,
    apply_change,
    apply_warehouse,
    compile_staging,
    render_example,
    render_warehouse,
)

pytestmark = pytest.mark.postgres


def lsn(n: int) -> str:
    return "0x" + f"{n:020X}"


def change(table: str, op: str, at: int, after: dict, tenant: str = "oslo", seq: int = 1):
    return {
        "op": op,
        "lsn": lsn(at),
        "seq": lsn(seq),
        "commit_time": "2026-11-20T10:00:00.123",
        "tenant": tenant,
        "source": {"table": table},
        "after": after,
    }


@pytest.fixture
def retail(pg_database):
    server, name = pg_database
    files = render_example("retail_cdc")
    conn = server.connect(name)
    for _ in range(2):  # idempotent: applying again changes nothing and does not fail
        apply_warehouse(conn, render_warehouse("retail_cdc"))
    yield conn, yaml.safe_load(files["prod/sink.yaml"]), files
    conn.close()


def customer(cid: int, name: str, **extra) -> dict:
    row = {
        "CustomerId": cid,
        "CustomerNumber": f"C{cid}",
        "Name": name,
        "Email": None,
        "IsActive": True,
        "CreditLimit": "1000.5000",
        "Rating": 4.5,
        "CreatedAt": "2026-01-02T03:04:05.678",
        "RowVersion": "0x00000000000007D1",
    }
    row.update(extra)
    return row


def test_ddl_creates_the_schema_the_sink_writes(retail) -> None:
    conn, sink, _ = retail
    tables = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'retail'"
        )
    }
    assert tables == {
        "customer",
        "order_line",
        "fravaersarsak",
        "sales_store_location",
        "_cdc_checkpoint",
    }
    for case in sink["output"]["switch"]["cases"]:
        assert 'INTO "retail".' in case["output"]["sql_raw"]["query"]


def test_upsert_update_replay_delete_and_reinsert(retail) -> None:
    conn, sink, _ = retail
    apply_change(conn, sink, change("dbo.Customer", "c", 10, customer(1, "Ada")))
    apply_change(
        conn, sink, change("dbo.Customer", "c", 11, customer(1, "Bergen Ada"), tenant="bergen")
    )
    apply_change(conn, sink, change("dbo.Customer", "u", 12, customer(1, "Ada Lovelace")))
    apply_change(conn, sink, change("dbo.Customer", "c", 10, customer(1, "Ada")))  # replayed
    rows = conn.execute(
        'SELECT tenant_id, "Name", "CreditLimit", "__cdc_operation" '
        "FROM retail.customer ORDER BY tenant_id"
    ).fetchall()
    assert [(r[0], r[1], str(r[2]), r[3]) for r in rows] == [
        ("bergen", "Bergen Ada", "1000.5000", "c"),
        ("oslo", "Ada Lovelace", "1000.5000", "u"),
    ]

    # a delete and a re-insert of the same key in one batch (same LSN, later sequence value)
    apply_change(conn, sink, change("dbo.Customer", "d", 13, customer(1, "Ada Lovelace"), seq=1))
    apply_change(conn, sink, change("dbo.Customer", "c", 13, customer(1, "Ada II"), seq=2))
    assert conn.execute(
        "SELECT \"Name\" FROM retail.customer WHERE tenant_id = 'oslo'"
    ).fetchall() == [("Ada II",)]
    apply_change(conn, sink, change("dbo.Customer", "d", 14, customer(1, "Ada II")))
    # the delete leaves a tombstone: the key, marked deleted, at the delete's LSN
    assert conn.execute(
        'SELECT "__cdc_operation", encode("__cdc_lsn", \'hex\') '
        "FROM retail.customer WHERE tenant_id = 'oslo'"
    ).fetchall() == [("d", lsn(14)[2:].lower())]
    apply_change(conn, sink, change("dbo.Customer", "u", 12, customer(1, "Ada Lovelace")))
    assert conn.execute(
        "SELECT \"__cdc_operation\" FROM retail.customer WHERE tenant_id = 'oslo'"
    ).fetchall() == [("d",)]  # replay ignored


def test_composite_key(retail) -> None:
    conn, sink, _ = retail

    def line(order: int, number: int, quantity: str) -> dict:
        return {
            "OrderId": order,
            "LineNo": number,
            "ProductId": "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "Quantity": quantity,
            "UnitPrice": "19.99",
            "Discount": None,
            "Note": "ñ ✓",
            "DeliveredOn": "2026-11-01",
            "DeliveryWindow": "14:30:00",
            "UpdatedAt": "2026-11-01T10:00:00.1234567+01:00",
        }

    apply_change(conn, sink, change("dbo.OrderLine", "c", 20, line(7, 1, "1.000")))
    apply_change(conn, sink, change("dbo.OrderLine", "c", 20, line(7, 2, "2.500"), seq=2))
    apply_change(conn, sink, change("dbo.OrderLine", "u", 21, line(7, 2, "3.250")))
    apply_change(conn, sink, change("dbo.OrderLine", "d", 22, line(7, 1, "1.000")))
    rows = conn.execute(
        'SELECT "OrderId", "LineNo", "Quantity"::text, "ProductId"::text, '
        "\"UpdatedAt\" AT TIME ZONE 'UTC' FROM retail.order_line "
        "WHERE \"__cdc_operation\" <> 'd'"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (7, 2, "3.250", "6f9619ff-8b86-d011-b42d-00c04fc964ff")
    ]
    assert str(rows[0][4]) == "2026-11-01 09:00:00.123457"


def test_non_ascii_names_survive(retail) -> None:
    conn, sink, _ = retail
    apply_change(
        conn,
        sink,
        change(
            "dbo.Fraværsårsak",
            "c",
            30,
            {"ÅrsakId": 3, "Årsak": "Sykdom", "Beskrivelse": "Syk", "Gyldig": True},
        ),
    )
    assert conn.execute('SELECT "ÅrsakId", "Årsak" FROM retail.fravaersarsak').fetchall() == [
        (3, "Sykdom")
    ]


def test_wide_types_land_exactly(retail) -> None:
    conn, sink, _ = retail
    apply_change(
        conn,
        sink,
        change(
            "sales.StoreLocation",
            "c",
            40,
            {
                "StoreCode": "OSL001",
                "Address": "Karl Johans gate 1",
                "Position": "0x0101000000000000000000F03F0000000000000040",
                "Layout": '<layout><aisle n="1"/></layout>',
                "Extra": "42",
                "Region": "/1/3/",
                "Photo": "0xFFD8FFE0",
                "Opened": "2001-02-03T04:05:00",
                "Legacy": "2001-02-03T04:05:06.997",
                "Checksum": "0x000102030405060708090A0B0C0D0E0F",
                "Name": "store",
            },
        ),
    )
    row = conn.execute(
        'SELECT "StoreCode", encode("Photo", \'hex\'), encode("Checksum", '
        '\'hex\'), "Layout"::text, "Region", "Legacy"::text, "Opened"::text '
        "FROM retail.sales_store_location"
    ).fetchone()
    assert row == (
        "OSL001",
        "ffd8ffe0",
        "000102030405060708090a0b0c0d0e0f",
        '<layout><aisle n="1"/></layout>',
        "/1/3/",
        "2001-02-03 04:05:06.997",
        "2001-02-03 04:05:00",
    )


def test_checkpoint_never_moves_backwards(retail) -> None:
    conn, _, files = retail
    source = yaml.safe_load(files["prod/source-oslo.yaml"])
    cache = source["cache_resources"][0]["sql"]
    statement = (
        f"INSERT INTO {cache['table']} ({cache['key_column']}, {cache['value_column']}) "
        f"VALUES ($1, $2) {cache['set_suffix']}"
    )
    for value in (lsn(5), lsn(9), lsn(7)):
        result = conn.pgconn.exec_params(statement.encode(), [b"k", value.encode()])
        assert not result.error_message, result.error_message.decode()
    assert conn.execute("SELECT value FROM retail._cdc_checkpoint").fetchall() == [(lsn(9),)]


def test_db_shared_pipeline_applies(pg_database) -> None:
    server, name = pg_database
    files = render_example("erp_cdc")
    with server.connect(name) as conn:
        apply_warehouse(conn, render_warehouse("erp_cdc"))
        sink = yaml.safe_load(files["prod/sink.yaml"])
        amount = "12345678901234567.12345678901234567890"
        for company in (101, 205):
            apply_change(
                conn,
                sink,
                change(
                    "dbo.GLEntry",
                    "c",
                    50,
                    {
                        "CompanyId": company,
                        "EntryNo": 1,
                        "AccountNo": "3000",
                        "PostingDate": "2026-11-20",
                        "Amount": amount,
                        "Currency": "NOK",
                        "Description": "Salg",
                    },
                    tenant=str(company),
                ),
            )
        rows = conn.execute(
            'SELECT "CompanyId", "Amount"::text FROM erp.gl_entry ORDER BY 1'
        ).fetchall()
        assert rows == [(101, amount), (205, amount)]
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'gl_entry'"
            )
        }
        assert "tenant_id" not in columns  # db-shared tables carry their own tenant column


# SQL Server's own order of the changes of one (LSN, sequence value): its __$operation code.
SOURCE_ORDER = {"d": 1, "c": 2, "u": 4}
# Histories of one key, as (operation, LSN, sequence value) in the source's order.
HISTORIES = {
    "insert, update, delete": [("c", 11, 1), ("u", 12, 1), ("d", 13, 1)],
    "delete, then re-insert": [("c", 11, 1), ("d", 12, 1), ("c", 13, 1)],
    "re-insert in the delete's transaction": [("c", 11, 1), ("d", 13, 1), ("c", 13, 2)],
    "key updated in place (delete and insert share LSN and seq)": [
        ("c", 11, 1),
        ("d", 13, 1),
        ("c", 13, 1),
    ],
    "two lives": [("c", 11, 1), ("u", 12, 1), ("d", 13, 1), ("c", 14, 1), ("d", 15, 1)],
}


def deliveries(history: list) -> list[tuple[str, list]]:
    """Every order a broker could deliver `history` in, each delivered once and then again
    (the whole window replayed), plus, for short histories, every order of every change
    delivered twice."""
    runs = []
    for order in itertools.permutations(history):
        runs.append((f"{list(order)} replayed", [*order, *order]))
    if len(history) <= 3:
        for order in sorted(set(itertools.permutations(history * 2))):
            runs.append((f"{list(order)}", list(order)))
    return runs


def newest(history: list) -> tuple[str, int, int]:
    return max(history, key=lambda c: (c[1], c[2], SOURCE_ORDER[c[0]]))


def check_every_interleaving(
    conn,
    sink,
    table: str,
    row: Callable[[int, str], dict],
    tenant: Callable[[int], str],
    query: str,
) -> None:
    """Apply every delivery order of every history, each to its own key; `query` returns
    (key, visible value, operation, LSN, seq) per stored row."""
    expected: dict[int, tuple] = {}
    described: dict[int, str] = {}
    key = 0
    for name, history in HISTORIES.items():
        op, at, seq = newest(history)
        for description, delivered in deliveries(history):
            key += 1
            for d_op, d_at, d_seq in delivered:
                apply_change(
                    conn,
                    sink,
                    change(
                        table, d_op, d_at, row(key, f"{d_op}@{d_at}"), tenant=tenant(key), seq=d_seq
                    ),
                )
            expected[key] = (f"{op}@{at}", op, lsn(at)[2:].lower(), lsn(seq)[2:].lower())
            described[key] = f"{name}: {description}"
    stored = {r[0]: tuple(r[1:]) for r in conn.execute(query)}
    wrong = [
        f"{described[k]} left {stored.get(k)}, the newest change is {expected[k]}"
        for k in expected
        if stored.get(k) != expected[k]
    ]
    assert not wrong, f"{len(wrong)} of {len(expected)} delivery orders:\n" + "\n".join(wrong[:10])


def test_every_delivery_order_ends_in_the_newest_change_db_per_tenant(retail) -> None:
    """A delete leaves a tombstone, so replaying an older insert or update cannot bring the
    row back; every order and replay of a key's changes ends in its newest change."""
    conn, sink, _ = retail
    check_every_interleaving(
        conn,
        sink,
        "dbo.Customer",
        lambda key, value: customer(key, value),
        lambda key: "oslo",
        'SELECT "CustomerId", "Name", "__cdc_operation", encode("__cdc_lsn", \'hex\'), '
        "encode(\"__cdc_seq\", 'hex') FROM retail.customer WHERE tenant_id = 'oslo'",
    )
    live = conn.execute(
        "SELECT count(*) FROM retail.customer WHERE \"__cdc_operation\" <> 'd'"
    ).fetchone()[0]
    assert live == sum(len(deliveries(h)) for h in HISTORIES.values() if newest(h)[0] != "d")


def test_every_delivery_order_ends_in_the_newest_change_db_shared(pg_database) -> None:
    server, name = pg_database
    files = render_example("erp_cdc")
    with server.connect(name) as conn:
        apply_warehouse(conn, render_warehouse("erp_cdc"))
        sink = yaml.safe_load(files["prod/sink.yaml"])

        def entry(key: int, value: str) -> dict:
            return {
                "CompanyId": 205,
                "EntryNo": key,
                "AccountNo": "3000",
                "PostingDate": "2026-11-20",
                "Amount": "1.5",
                "Currency": "NOK",
                "Description": value,
            }

        check_every_interleaving(
            conn,
            sink,
            "dbo.GLEntry",
            entry,
            lambda key: "205",
            'SELECT "EntryNo", "Description", "__cdc_operation", encode("__cdc_lsn", \'hex\'), '
            'encode("__cdc_seq", \'hex\') FROM erp.gl_entry WHERE "CompanyId" = 205',
        )


def test_staging_on_postgres_shows_live_rows_with_reserved_word_columns_as_data(
    pg_database, tmp_path
) -> None:
    """The staging models on PostgreSQL, over rows landed by the sink: a tombstone is not a
    row, and every column (`User`, `Order`, `Select`, `1stContact` among them) can be written
    bare and gives its data, not a keyword's value. dbt-postgres is not installed here, so the
    models are compiled the way dbt does (Jinja, `source()` naming the landed table) and run
    as views."""
    for part in ("templates", "platform/cdc", "pipelines/retail_cdc"):
        copy_from_checkout(part, tmp_path)
    add_reserved_word_columns(tmp_path)
    files = render_example("retail_cdc", tmp_path)
    server, name = pg_database
    with server.connect(name) as conn:
        apply_warehouse(conn, render_warehouse("retail_cdc", tmp_path))
        sink = yaml.safe_load(files["prod/sink.yaml"])
        reserved = {"User": "ada", "Order": 7, "Select": True, "1stContact": "2026-01-05"}
        apply_change(conn, sink, change("dbo.Customer", "c", 10, customer(1, "Ada", **reserved)))
        apply_change(conn, sink, change("dbo.Customer", "c", 10, customer(2, "Bo", **reserved)))
        apply_change(conn, sink, change("dbo.Customer", "d", 11, customer(2, "Bo", **reserved)))
        model = compile_staging("retail_cdc", tmp_path)["stg_retail__customer"]
        conn.execute(f"CREATE VIEW retail.stg_customer AS {model}")
        names = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'stg_customer' ORDER BY ordinal_position"
            )
        ]
        for column in names:
            bare = conn.execute(f"SELECT {column} FROM retail.stg_customer").fetchall()
            quoted = conn.execute(f'SELECT "{column}" FROM retail.stg_customer').fetchall()
            assert bare == quoted, column
        assert conn.execute(
            "SELECT customer_id, user_, order_, select_, _1st_contact::text "
            "FROM retail.stg_customer"
        ).fetchall() == [(1, "ada", 7, True, "2026-01-05")]
