"""Bad CDC input: one clear line with file, line and key, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.cdc import generate
from dataplatform.errors import ConfigError, UserError
from dataplatform.project import Project

GROUPS = """\
groups:
  shop:
    pattern: db-per-tenant
    servers:
      main:
        host: ${SHOP_HOST:-localhost}
        port: 1433
        user: ${SHOP_USER}
        password: ${SHOP_PASSWORD}
    tenants:
      north: {database: Shop_North, env: prod}
      south: {database: Shop_South, env: prod}
"""

PIPELINE = """\
name: shop_cdc
cdc:
  source_group: shop
  target_schema: shop
  tables:
    dbo.Orders:
      primary_key: [OrderId]
      columns:
        OrderId: int
        Total: decimal(10,2)
"""


def load(tmp_path: Path, groups: str = GROUPS, pipeline: str = PIPELINE):
    (tmp_path / "platform/cdc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "platform/cdc/source-groups.yaml").write_text(groups)
    directory = tmp_path / "pipelines/shop_cdc"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pipeline.yaml").write_text(pipeline)
    source = generate.find_source(directory, True)
    return generate.load(Project(tmp_path), source)


def error(tmp_path: Path, **changes: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, **changes)
    return str(info.value)


def test_valid_input_loads(tmp_path: Path) -> None:
    pipeline = load(tmp_path)
    assert [t.qualified for t in pipeline.tables] == ["dbo.Orders"]


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    text = PIPELINE.replace("primary_key:", "primery_key:")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:7: cdc.tables.dbo.Orders.primery_key: unknown key — "
        "did you mean 'primary_key'?")


def test_table_without_primary_key(tmp_path: Path) -> None:
    text = PIPELINE.replace("      primary_key: [OrderId]\n", "")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:6: cdc.tables.dbo.Orders: table dbo.Orders has no "
        "primary_key — CDC upserts and deletes by key: name its primary-key column(s)")


def test_primary_key_column_not_among_columns(tmp_path: Path) -> None:
    text = PIPELINE.replace("[OrderId]", "[OrderID]")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:7: cdc.tables.dbo.Orders.primary_key[0]: primary-key "
        "column 'OrderID' is not among the columns — did you mean 'OrderId'?")


def test_duplicate_tenant(tmp_path: Path) -> None:
    text = GROUPS + "      north: {database: Shop_North2, env: prod}\n"
    assert error(tmp_path, groups=text) == (
        "platform/cdc/source-groups.yaml:13: groups.shop.tenants.north: duplicate key (first "
        "defined on line 11) — keep one of them")


def test_two_tenants_on_one_database(tmp_path: Path) -> None:
    text = GROUPS.replace("Shop_South", "shop_north")
    assert "groups.shop.tenants.south: reads the same database as tenants.north" in error(
        tmp_path, groups=text)


def test_unknown_source_group(tmp_path: Path) -> None:
    text = PIPELINE.replace("source_group: shop", "source_group: shopp")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:3: cdc.source_group: unknown source group 'shopp' — "
        "did you mean 'shop'?")


def test_type_that_does_not_map(tmp_path: Path) -> None:
    text = PIPELINE.replace("decimal(10,2)", "currency")
    message = error(tmp_path, pipeline=text)
    assert message.startswith("pipelines/shop_cdc/pipeline.yaml:10: "
                              "cdc.tables.dbo.Orders.columns.Total: unknown SQL Server type "
                              "'currency'")


def test_names_colliding_after_sanitizing(tmp_path: Path) -> None:
    text = PIPELINE + ("    dbo.Ærlig:\n      primary_key: Id\n      columns: {Id: int}\n"
                       "      target_table: aerlig_a\n"
                       "    dbo.AErlig:\n      primary_key: Id\n      columns: {Id: int}\n")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:15: cdc.tables.dbo.AErlig: dbo.AErlig and dbo.Ærlig "
        "both become Kafka topic 'shop_cdc.dbo.aerlig' — rename one, or set target_table")


def test_literal_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    text = GROUPS.replace("${SHOP_PASSWORD}", "hunter2")
    message = error(tmp_path, groups=text)
    assert "hunter2" not in message
    assert message == (
        "platform/cdc/source-groups.yaml:9: groups.shop.servers.main.password: must be an ${ENV} "
        "reference, not a literal value — write password: ${MAIN_MSSQL_PASSWORD} and keep the "
        "value in .env")


def test_nullable_primary_key(tmp_path: Path) -> None:
    text = PIPELINE.replace("OrderId: int\n", "OrderId: {type: int, nullable: true}\n")
    assert "a primary-key column cannot be nullable" in error(tmp_path, pipeline=text)


def test_both_places_for_cdc_is_an_error(tmp_path: Path) -> None:
    load(tmp_path)
    (tmp_path / "pipelines/shop_cdc/config").mkdir()
    (tmp_path / "pipelines/shop_cdc/config/cdc.yaml").write_text("source_group: shop\n")
    with pytest.raises(UserError, match=r"both pipeline\.yaml"):
        generate.find_source(tmp_path / "pipelines/shop_cdc", True)
