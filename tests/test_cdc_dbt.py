"""dbt staging derived from CDC tables: sources and staging models that build with dbt on DuckDB
over landed sample data, regenerate only what changed, and never overwrite hand-written files."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from dataplatform.dbt import keywords
from dataplatform.dbt.runner import TARGETS
from support import TempProject, copy_from_checkout, executed, require_dbt_extra
from support.cdc import add_reserved_word_columns

duckdb = require_dbt_extra()  # skips (fails under CI) without the dbt extra

STAGING = "pipelines/retail_cdc/dbt/models/staging/retail"


@pytest.fixture
def retail(project: TempProject) -> TempProject:
    for part in ("platform/cdc", "pipelines/retail_cdc", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    return project


def test_staging_builds_over_landed_sample_data(retail: TempProject) -> None:
    first = retail.doit("dbt:retail_cdc")
    assert first.returncode == 0, first.stdout + first.stderr
    assert executed(first) == ["cdc:retail_cdc", "dbt:retail_cdc"]  # generated, then built
    warehouse = retail.root / "pipelines/retail_cdc/build/retail_cdc.duckdb"
    with duckdb.connect(str(warehouse)) as db:  # what the sink would have landed
        db.execute("""insert into retail.customer ("tenant_id", "CustomerId", "CustomerNumber",
            "Name", "IsActive", "CreditLimit", "CreatedAt", "__cdc_operation",
            "__cdc_commit_time", "__cdc_loaded_at")
            values ('oslo', 1, 'C1', 'Ada', true, 1000.5, '2026-01-02 03:04:05', 'c',
                    '2026-11-20 10:00:00', now()),
                   ('bergen', 1, 'C1', 'Bo', false, null, '2026-01-03 00:00:00', 'u',
                    '2026-11-20 10:05:00', now()),
                   ('trondheim', 1, 'C1', 'Gone', true, null, '2026-01-03 00:00:00', 'd',
                    '2026-11-20 10:06:00', now())""")  # a tombstone: deleted at the source
        db.execute("""insert into retail.fravaersarsak ("tenant_id", "ÅrsakId", "Årsak",
            "__cdc_operation", "__cdc_loaded_at") values ('oslo', 3, 'Sykdom', 'c', now())""")
        db.execute("""insert into retail.order_line ("tenant_id", "OrderId", "LineNo",
            "ProductId", "Quantity", "UnitPrice", "__cdc_operation", "__cdc_loaded_at")
            values ('oslo', 7, 1, uuid(), 1.5, 10, 'c', now()),
                   ('oslo', 7, 2, uuid(), 2, 10, 'c', now())""")
    built = retail.doit("--always-execute", "dbt:retail_cdc")
    assert built.returncode == 0, built.stdout
    with duckdb.connect(str(warehouse), read_only=True) as db:
        customers = db.execute(
            "select tenant_id, customer_id, name, is_active, cdc_operation "
            "from stg_retail__customer order by tenant_id"
        ).fetchall()
        reasons = db.execute("select årsak_id, årsak from stg_retail__fravaersarsak").fetchall()
        lines = db.execute(
            "select order_id, line_no from stg_retail__order_line order by line_no"
        ).fetchall()
    # the tombstone a delete leaves in the landed table is not a row of staging
    assert customers == [("bergen", 1, "Bo", False, "u"), ("oslo", 1, "Ada", True, "c")]
    assert reasons == [(3, "Sykdom")]
    assert lines == [(7, 1), (7, 2)]

    with duckdb.connect(str(warehouse)) as db:  # a duplicate composite key must be caught
        db.execute("""insert into retail.order_line ("tenant_id", "OrderId", "LineNo",
            "ProductId", "Quantity", "UnitPrice", "__cdc_operation", "__cdc_loaded_at")
            values ('oslo', 7, 2, uuid(), 9, 10, 'u', now())""")
    failed = retail.doit("--always-execute", "dbt:retail_cdc")
    assert failed.returncode == 1
    assert re.search(
        r"test source_unique_combination_of_columns_retail_order_line\S*: Got 1 "
        r"result",
        failed.stdout,
    ), failed.stdout


def test_hand_written_files_are_never_overwritten(retail: TempProject) -> None:
    own = retail.root / STAGING / "stg_retail__customer.sql"
    own.parent.mkdir(parents=True)
    own.write_text("select 1 as mine\n")
    result = retail.doit("cdc")
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert line == (
        f"✗ cdc:retail_cdc: {STAGING}/stg_retail__customer.sql exists and was not "
        "generated — it would be overwritten: rename it, or delete it to let the "
        "generator own it"
    )
    assert own.read_text() == "select 1 as mine\n"
    assert not (retail.root / "pipelines/retail_cdc/generated").exists()  # nothing written

    own.rename(own.with_name("stg_retail__customer_extras.sql"))
    done = retail.doit("cdc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (retail.root / STAGING / "stg_retail__customer_extras.sql").exists()


def test_regeneration_rewrites_only_what_changed(retail: TempProject) -> None:
    done = retail.doit("cdc")
    assert done.returncode == 0, done.stdout + done.stderr
    folder = retail.root / STAGING
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    manifest = retail.root / "pipelines/retail_cdc/pipeline.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "        Gyldig: bit\n", "        Gyldig: bit\n        Kode: varchar(10)\n"
        )
    )
    done = retail.doit("cdc")
    assert done.returncode == 0, done.stdout + done.stderr
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["_retail__sources.yml", "stg_retail__fravaersarsak.sql"]
    assert (
        'cast("Kode" as varchar(10)) as kode'
        in (folder / "stg_retail__fravaersarsak.sql").read_text()
    )


def bare_reference_works(run: Callable[[str], list], word: str) -> bool:
    """Whether a query can use `word` as a bare column name and get the column."""
    try:
        rows = run(
            f'select {word} from (select 42 as "{word}") as s where {word} = 42 order by {word}'
        )
    except Exception:
        return False
    return rows == [(42,)]


@pytest.mark.parametrize("target", TARGETS)
def test_reserved_words_are_the_engines_own(target: str, request) -> None:
    """keywords.RESERVED lists, per dbt target, exactly the engine's keywords that cannot be
    a bare column name: every other keyword can (asked of the real DuckDB and PostgreSQL)."""
    assert set(keywords.RESERVED) == set(TARGETS)  # a new target brings its own words
    if target == "duckdb":
        db = duckdb.connect()
        run = lambda sql: db.execute(sql).fetchall()  # noqa: E731
        words = {w for (w,) in db.execute("select keyword_name from duckdb_keywords()").fetchall()}
    else:
        server = request.getfixturevalue("postgres_server")
        conn = server.connect()
        request.addfinalizer(conn.close)
        run = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        words = {w for (w,) in conn.execute("select word from pg_get_keywords()").fetchall()}
    unusable = {w for w in words if not bare_reference_works(run, w)}
    assert unusable == keywords.RESERVED[target]


def test_reserved_word_columns_come_through_as_data(retail: TempProject) -> None:
    """Columns named `User`, `Order`, `Select`, `1stContact` build on DuckDB, and every staging
    column can be written bare in a query and gives the column's data."""
    add_reserved_word_columns(retail.root)
    first = retail.doit("dbt:retail_cdc")
    assert first.returncode == 0, first.stdout + first.stderr
    warehouse = retail.root / "pipelines/retail_cdc/build/retail_cdc.duckdb"
    with duckdb.connect(str(warehouse)) as db:
        db.execute("""insert into retail.customer ("tenant_id", "CustomerId", "CustomerNumber",
            "Name", "IsActive", "CreatedAt", "User", "Order", "Select", "1stContact",
            "__cdc_operation", "__cdc_loaded_at") values ('oslo', 1, 'C1', 'Ada', true,
            '2026-01-02 03:04:05', 'ada', 7, true, '2026-01-05', 'c', now())""")
    built = retail.doit("--always-execute", "dbt:retail_cdc")
    assert built.returncode == 0, built.stdout
    with duckdb.connect(str(warehouse), read_only=True) as db:
        names = [r[0] for r in db.execute("describe stg_retail__customer").fetchall()]
        for name in names:
            bare = db.execute(f"select {name} from stg_retail__customer").fetchall()
            quoted = db.execute(f'select "{name}" from stg_retail__customer').fetchall()
            assert bare == quoted, name
        row = db.execute(
            "select user_, order_, select_, _1st_contact::text from stg_retail__customer"
        ).fetchall()
    assert row == [("ada", 7, True, "2026-01-05")]


def test_two_columns_with_one_staging_name_are_one_clear_error(retail: TempProject) -> None:
    """`User` is renamed `user_` in staging; a column `User_` would be too: that is an error
    naming both, and nothing is written."""
    manifest = retail.root / "pipelines/retail_cdc/pipeline.yaml"
    anchor = "        RowVersion: rowversion\n"
    manifest.write_text(
        manifest.read_text().replace(anchor, anchor + "        User: int\n        User_: int\n")
    )
    result = retail.doit("cdc:retail_cdc")
    assert result.returncode == 1
    [line] = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert line == (
        "✗ cdc:retail_cdc: pipelines/retail_cdc/pipeline.yaml: dbo.Customer: "
        "columns 'User' and 'User_' both become the staging column 'user_' — "
        "rename one"
    )
    assert not (retail.root / "pipelines/retail_cdc/generated").exists()
