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
        "did you mean 'primary_key'?"
    )


def test_table_without_primary_key(tmp_path: Path) -> None:
    text = PIPELINE.replace("      primary_key: [OrderId]\n", "")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:6: cdc.tables.dbo.Orders: table dbo.Orders has no "
        "primary_key — CDC upserts and deletes by key: name its primary-key column(s)"
    )


def test_primary_key_column_not_among_columns(tmp_path: Path) -> None:
    text = PIPELINE.replace("[OrderId]", "[OrderID]")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:7: cdc.tables.dbo.Orders.primary_key[0]: primary-key "
        "column 'OrderID' is not among the columns — did you mean 'OrderId'?"
    )


def test_duplicate_tenant(tmp_path: Path) -> None:
    text = GROUPS + "      north: {database: Shop_North2, env: prod}\n"
    assert error(tmp_path, groups=text) == (
        "platform/cdc/source-groups.yaml:13: groups.shop.tenants.north: duplicate key (first "
        "defined on line 11) — keep one of them"
    )


def test_two_tenants_on_one_database(tmp_path: Path) -> None:
    text = GROUPS.replace("Shop_South", "shop_north")
    assert "groups.shop.tenants.south: reads the same database as tenants.north" in error(
        tmp_path, groups=text
    )


def test_unknown_source_group(tmp_path: Path) -> None:
    text = PIPELINE.replace("source_group: shop", "source_group: shopp")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:3: cdc.source_group: unknown source group 'shopp' — "
        "did you mean 'shop'?"
    )


def test_type_that_does_not_map(tmp_path: Path) -> None:
    text = PIPELINE.replace("decimal(10,2)", "currency")
    message = error(tmp_path, pipeline=text)
    assert message.startswith(
        "pipelines/shop_cdc/pipeline.yaml:10: "
        "cdc.tables.dbo.Orders.columns.Total: unknown SQL Server type "
        "'currency'"
    )


def test_names_colliding_after_sanitizing(tmp_path: Path) -> None:
    text = PIPELINE + (
        "    dbo.Ærlig:\n      primary_key: Id\n      columns: {Id: int}\n"
        "      target_table: aerlig_a\n"
        "    dbo.AErlig:\n      primary_key: Id\n      columns: {Id: int}\n"
    )
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:15: cdc.tables.dbo.AErlig: dbo.AErlig and dbo.Ærlig "
        "(line 11) both become Kafka topic 'cdc.prod.shop_cdc.dbo.aerlig' — rename one, or set "
        "target_table"
    )


def test_literal_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    text = GROUPS.replace("${SHOP_PASSWORD}", "hunter2")
    message = error(tmp_path, groups=text)
    assert "hunter2" not in message
    assert message == (
        "platform/cdc/source-groups.yaml:9: groups.shop.servers.main.password: must be an ${ENV} "
        "reference, not a literal value — write password: ${SHOP_MAIN_MSSQL_PASSWORD} and keep "
        "the value in .env"
    )


def test_literal_password_hints_name_a_variable_per_group(tmp_path: Path) -> None:
    """Two groups with a server called `main` must not be told to share one variable."""
    other = GROUPS.split("\n", 1)[1].replace("  shop:", "  erp:").replace("SHOP_", "ERP_")
    text = (GROUPS + other).replace("${SHOP_PASSWORD}", "hunter2")
    hints = [error(tmp_path, groups=text)]
    text = (GROUPS + other).replace("${ERP_PASSWORD}", "hunter2")
    hints.append(
        error(tmp_path, groups=text, pipeline=PIPELINE.replace("group: shop", "group: erp"))
    )
    assert "${SHOP_MAIN_MSSQL_PASSWORD}" in hints[0]
    assert "${ERP_MAIN_MSSQL_PASSWORD}" in hints[1]


@pytest.mark.parametrize("key", ["password", "user"])
def test_a_credential_with_a_default_is_refused_without_echoing_it(
    tmp_path: Path, key: str
) -> None:
    """A default is a literal: it would land in every generated config."""
    variable = f"SHOP_{key.upper()}"
    text = GROUPS.replace(f"${{{variable}}}", f"${{{variable}:-DefaultSecret-123}}")
    message = error(tmp_path, groups=text)
    assert "DefaultSecret-123" not in message
    line = 8 if key == "user" else 9
    assert message == (
        f"platform/cdc/source-groups.yaml:{line}: groups.shop.servers.main.{key}: takes no "
        "default: a default is a secret written into every generated config — write "
        f"{key}: ${{{variable}}} and keep the value in .env"
    )


def test_a_host_may_still_have_a_default(tmp_path: Path) -> None:
    assert "${SHOP_HOST:-localhost}" in GROUPS
    assert load(tmp_path).group.databases[0].server.host == "${SHOP_HOST:-localhost}"


def test_tenants_that_become_one_file_are_an_error(tmp_path: Path) -> None:
    text = GROUPS + (
        "      x.1: {database: Shop_X1, env: prod}\n      x_1: {database: Shop_X_1, env: prod}\n"
    )
    assert error(tmp_path, groups=text) == (
        "platform/cdc/source-groups.yaml:14: groups.shop.tenants.x_1: tenant x_1 and tenant x.1 "
        "(line 13) both become generated file 'pipelines/*/generated/cdc/prod/source-x_1.yaml' "
        "— rename one of the tenants"
    )


def test_tenants_differing_in_case_are_an_error(tmp_path: Path) -> None:
    text = GROUPS + "      North: {database: Shop_North2, env: prod}\n"
    assert (
        "tenant North and tenant north (line 11) both become generated file "
        "'pipelines/*/generated/cdc/prod/source-north.yaml'" in error(tmp_path, groups=text)
    )


TABLE = "    {name}:\n      primary_key: Id\n      columns: {{Id: int}}\n{extra}"


def test_a_primary_key_index_taking_another_tables_name_is_an_error(tmp_path: Path) -> None:
    """PostgreSQL names the key of table `x` `x_pkey`, in the namespace of tables."""
    text = (
        PIPELINE
        + TABLE.format(name="dbo.XPkey", extra="      target_table: x_pkey\n")
        + TABLE.format(name="dbo.X", extra="")
    )
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:15: cdc.tables.dbo.X: dbo.X and dbo.XPkey (line 11) "
        "both become PostgreSQL relation 'shop.x_pkey' — rename one, or set target_table"
    )


def test_tables_landing_in_one_table_are_an_error(tmp_path: Path) -> None:
    text = PIPELINE + TABLE.format(name="sales.Orders", extra="      target_table: Orders\n")
    message = error(tmp_path, pipeline=text)
    assert message.startswith(
        "pipelines/shop_cdc/pipeline.yaml:11: cdc.tables.sales.Orders: "
        "sales.Orders and dbo.Orders (line 6) both become "
    )


def test_a_table_taking_the_checkpoint_table_is_an_error(tmp_path: Path) -> None:
    text = PIPELINE + TABLE.format(
        name="dbo.Checkpoint", extra="      target_table: _cdc_checkpoint\n"
    )
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:11: cdc.tables.dbo.Checkpoint: dbo.Checkpoint becomes "
        "PostgreSQL relation 'shop._cdc_checkpoint', which is the checkpoint table — rename one, "
        "or set target_table"
    )


@pytest.mark.parametrize(
    "spec", ["{type: 'int$', target_type: integer}", "{type: '(12)', target_type: text}"]
)
def test_an_unparseable_type_is_an_error_even_with_target_type(tmp_path: Path, spec: str) -> None:
    text = PIPELINE.replace("Total: decimal(10,2)", f"Total: {spec}")
    message = error(tmp_path, pipeline=text)
    assert message.startswith(
        "pipelines/shop_cdc/pipeline.yaml:10: cdc.tables.dbo.Orders.columns.Total.type: "
    )
    assert "is not a SQL Server type" in message


def test_an_unknown_type_with_target_type_is_taken(tmp_path: Path) -> None:
    text = PIPELINE.replace("Total: decimal(10,2)", "Total: {type: money2, target_type: text}")
    column = load(tmp_path, pipeline=text).tables[0].column("Total")
    assert (column.source_type.name, column.target_type) == ("money2", "text")


BROKEN_GROUP = """\
  other:
    pattern: db-per-tenantt
    servers: {main: {host: h, port: 1, user: "${O_USER}", password: "${O_PASSWORD}"}}
    tenants: {a: {database: A}}
"""


def test_a_broken_group_does_not_stop_a_pipeline_of_another_group(tmp_path: Path) -> None:
    pipeline = load(tmp_path, groups=GROUPS + BROKEN_GROUP)
    assert pipeline.group.name == "shop"


def test_a_pipeline_of_a_broken_group_gets_the_groups_own_error(tmp_path: Path) -> None:
    assert error(
        tmp_path,
        groups=GROUPS + BROKEN_GROUP,
        pipeline=PIPELINE.replace("group: shop", "group: other"),
    ) == (
        "platform/cdc/source-groups.yaml:14: groups.other.pattern: pattern must be "
        "db-per-tenant or db-shared, got string 'db-per-tenantt'"
    )


def test_nullable_primary_key(tmp_path: Path) -> None:
    text = PIPELINE.replace("OrderId: int\n", "OrderId: {type: int, nullable: true}\n")
    assert "a primary-key column cannot be nullable" in error(tmp_path, pipeline=text)


def test_both_places_for_cdc_is_an_error(tmp_path: Path) -> None:
    load(tmp_path)
    (tmp_path / "pipelines/shop_cdc/config").mkdir()
    (tmp_path / "pipelines/shop_cdc/config/cdc.yaml").write_text("source_group: shop\n")
    with pytest.raises(UserError, match=r"both pipeline\.yaml"):
        generate.find_source(tmp_path / "pipelines/shop_cdc", True)


def test_a_column_yaml_reads_as_a_boolean_is_an_error(tmp_path: Path) -> None:
    """`No` (a common ERP column) is `false` in YAML 1.1: it must not land as a column False."""
    text = PIPELINE.replace("        Total: decimal(10,2)\n", "        No: nvarchar(20)\n")
    assert error(tmp_path, pipeline=text) == (
        "pipelines/shop_cdc/pipeline.yaml:10: cdc.tables.dbo.Orders.columns.False: a column "
        'name YAML reads as true/false (from yes, no, on, off) — quote it, e.g. "No": int'
    )
    quoted = text.replace("No: nvarchar", '"No": nvarchar').replace("[OrderId]", "[OrderId, No]")
    assert "cdc.tables.dbo.Orders.primary_key[1]: a column name YAML reads as true/false" in error(
        tmp_path, pipeline=quoted
    )
    fixed = quoted.replace("[OrderId, No]", '[OrderId, "No"]')
    assert [c.name for c in load(tmp_path, pipeline=fixed).tables[0].columns] == ["OrderId", "No"]
