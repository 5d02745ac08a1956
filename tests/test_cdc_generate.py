"""What the CDC generator writes, rule by rule: each rule here is one that hand-maintained
pipeline configs in the wild break."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from dataplatform.cdc import generate
from dataplatform.cdc.lint import mssql_dsn
from dataplatform.project import Project
from dataplatform.warehouse import generate as warehouse
from dataplatform.warehouse.layout import inputs_of
from support import REPO
from support.cdc import render_example, render_warehouse

RETAIL = render_example("retail_cdc")
ERP = render_example("erp_cdc")
RETAIL_TABLES = render_warehouse("retail_cdc")
TENANT_DATABASES = {
    "oslo": "Retail_Oslo",
    "bergen": "Retail_Bergen",
    "stavanger": "Retail_Stavanger",
    "demo": "Retail_Demo",
}
TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def configs(files: dict[str, str], kind: str) -> dict[str, dict]:
    return {
        path: yaml.safe_load(text)
        for path, text in files.items()
        if path.endswith(".yaml") and Path(path).name.startswith(kind)
    }


def table_inputs(source: dict) -> list[dict]:
    return source["input"]["broker"]["inputs"]


def processor(inputs: dict, kind: str) -> dict:
    return next(p[kind] for p in inputs["processors"] if kind in p)


def test_files_per_environment_and_tenant() -> None:
    assert sorted(RETAIL) == [
        "dev/sink.yaml",
        "dev/source-demo.yaml",
        "prod/sink.yaml",
        "prod/source-bergen.yaml",
        "prod/source-oslo.yaml",
        "prod/source-stavanger.yaml",
        "relations.txt",
    ]
    # the replica tables' DDL is the warehouse generator's (generated/warehouse/)
    assert sorted(RETAIL_TABLES) == [
        "10_schema_retail.sql",
        "20_table_retail.cdc_checkpoint.sql",
        "20_table_retail.customer.sql",
        "20_table_retail.fravaersarsak.sql",
        "20_table_retail.order_line.sql",
        "20_table_retail.sales_store_location.sql",
        "objects.json",
    ]
    assert sorted(p for p in ERP if p.endswith(".yaml")) == [
        "nonprod/sink.yaml",
        "nonprod/source.yaml",
        "prod/sink.yaml",
        "prod/source.yaml",
    ]


def test_each_tenant_source_points_at_its_own_database() -> None:
    for path, source in configs(RETAIL, "source").items():
        tenant = re.search(r"source-(\w+)\.yaml", path).group(1)
        for table_input in table_inputs(source):
            dsn = mssql_dsn.parse(processor(table_input, "sql_raw")["dsn"])
            assert dsn["database"] == TENANT_DATABASES[tenant], path
            assert f'root.tenant = "{tenant}"' in processor(table_input, "mapping")


def test_mappings_use_plain_field_names_and_keep_non_ascii() -> None:
    bracketed = re.compile(r"\[[^\]\s\",]+\]")  # a [Column] reference, not a [list, literal]
    for files in (RETAIL, ERP):
        for source in configs(files, "source").values():
            for table_input in table_inputs(source):
                mapping = processor(table_input, "mapping")
                assert not bracketed.search(mapping), mapping
        for sink in configs(files, "sink").values():
            for case in sink["output"]["switch"]["cases"]:
                assert not bracketed.search(case["output"]["sql_raw"]["args_mapping"])
    source = yaml.safe_load(RETAIL["prod/source-oslo.yaml"])
    mapping = processor(next(i for i in table_inputs(source) if "fra" in i["label"]), "mapping")
    assert '"Årsak": this."Årsak"' in mapping and 'this."ÅrsakId"' in mapping
    assert '"Årsak" varchar(100) NOT NULL' in RETAIL_TABLES["20_table_retail.fravaersarsak.sql"]


def test_topics_are_valid_kafka_names_shared_by_source_and_sink() -> None:
    for files in (RETAIL, ERP):
        for path, sink in configs(files, "sink").items():
            env = path.split("/")[0]
            produced = set()
            for source_path, source in configs(files, "source").items():
                if source_path.startswith(env + "/"):
                    for table_input in table_inputs(source):
                        produced |= set(
                            re.findall(r'meta topic = "([^"]+)"', processor(table_input, "mapping"))
                        )
            consumed = set(sink["input"]["redpanda"]["topics"])
            assert consumed == produced
            assert all(TOPIC.match(t) for t in consumed)
    assert (
        "cdc.prod.retail_cdc.dbo.fravaersarsak"
        in yaml.safe_load(RETAIL["prod/sink.yaml"])["input"]["redpanda"]["topics"]
    )


def test_checkpoint_is_saved_only_after_the_broker_acknowledged() -> None:
    source = yaml.safe_load(RETAIL["prod/source-oslo.yaml"])
    output = source["output"]["broker"]
    assert output["pattern"] == "fan_out_sequential"
    first, second = output["outputs"]
    assert "redpanda" in first and first["redpanda"]["key"] == "${! @key }"
    assert second["cache"]["target"] == "checkpoints"
    assert second["processors"] == [
        {"mapping": "root = if batch_index() == batch_size() - 1 { @lsn } else { deleted() }"}
    ]
    for table_input in table_inputs(source):
        read_key = table_input["processors"][0]["branch"]["processors"][0]["cache"]["key"]
        mapping = processor(table_input, "mapping")
        assert f'meta checkpoint_key = "{read_key}"' in mapping  # the key it reads is written


def parse_query(query: str) -> list[exp.Expression]:
    return sqlglot.parse(query, read="tsql", error_level=ErrorLevel.RAISE)


def test_source_tsql_parses_and_reads_whole_lsn_windows_in_order() -> None:
    for files in (RETAIL, ERP):
        for source in configs(files, "source").values():
            for table_input in table_inputs(source):
                names = [p and next(iter(p)) for p in table_input["processors"]]
                # one poll = one result = one batch: nothing splits it before the output
                assert names == ["branch", "catch", "sql_raw", "unarchive", "mapping"]
                statements = parse_query(processor(table_input, "sql_raw")["query"])
                assert [type(s).__name__ for s in statements] == ["Declare"] * 4 + ["IfBlock"]
                select = next(statements[4].find_all(exp.Select))
                order = [o.this.sql("tsql") for o in select.args["order"].expressions]
                assert order == ["c.__$start_lsn", "c.__$seqval", "c.__$operation"]
                table = select.find(exp.From).this
                assert table.args["db"].name == "cdc"
                function = table.this
                assert function.name.startswith("fn_cdc_get_all_changes_")
                assert [a.sql("tsql") for a in function.expressions] == ["@from", "@to", "N'all'"]


def test_db_shared_source_filters_the_listed_tenants() -> None:
    source = yaml.safe_load(ERP["prod/source.yaml"])
    query = processor(table_inputs(source)[0], "sql_raw")["query"]
    assert "WHERE c.[CompanyId] IN (101, 205)" in query
    assert "root.tenant = this.CompanyId.string()" in processor(table_inputs(source)[0], "mapping")


def test_composite_keys_everywhere() -> None:
    source = yaml.safe_load(RETAIL["prod/source-oslo.yaml"])
    order_line = next(i for i in table_inputs(source) if i["label"] == "poll_dbo_orderline")
    mapping = processor(order_line, "mapping")
    assert 'meta key = ["oslo", this.OrderId, this.LineNo]' in mapping
    assert 'root.key = {"OrderId": this.OrderId, "LineNo": this.LineNo}' in mapping
    query = next(
        c["output"]["sql_raw"]["query"]
        for c in yaml.safe_load(RETAIL["prod/sink.yaml"])["output"]["switch"]["cases"]
        if "OrderLine" in c["check"]
    )
    assert 'ON CONFLICT ("tenant_id", "OrderId", "LineNo")' in query
    assert (
        'PRIMARY KEY ("tenant_id", "OrderId", "LineNo")'
        in RETAIL_TABLES["20_table_retail.order_line.sql"]
    )


def test_no_secret_reaches_a_generated_file(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "repo"
    for part in ("templates", "platform/cdc", "pipelines/retail_cdc"):
        shutil.copytree(REPO / part, root / part)
    (root / "dodo.py").write_text("")
    secrets = {
        "RETAIL_MSSQL_USER": "etl_reader",
        "RETAIL_MSSQL_PASSWORD": "S3cr3t!Pa55",
        "CDC_POSTGRES_DSN": "postgres://writer:Hunter2@db/retail",
    }
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    project = Project(root)
    source = generate.find_source(root / "pipelines/retail_cdc", True)
    generate.generate(project, source)
    warehouse.generate(project, inputs_of(root / "pipelines/retail_cdc", False, True))
    out = root / "pipelines/retail_cdc/generated/cdc"
    texts = [p.read_text() for p in out.rglob("*") if p.is_file()]
    assert len(texts) == 8
    tables = [p.read_text() for p in (out.parent / "warehouse").iterdir()]
    assert len(tables) == 8
    texts += tables
    for text in texts:
        for value in secrets.values():
            assert value not in text
    dsn = processor(
        table_inputs(yaml.safe_load((out / "prod/source-oslo.yaml").read_text()))[0], "sql_raw"
    )["dsn"]
    params = mssql_dsn.parse(dsn)
    assert params["user id"] == "${RETAIL_MSSQL_USER}"
    assert params["password"] == "${RETAIL_MSSQL_PASSWORD}"
    # a shell default (`:-`) is written in Redpanda Connect's syntax (`:`)
    assert params["server"] == "${RETAIL_MSSQL_HOST:mssql-nordic.internal}"


# The fields each Redpanda Connect component we emit accepts (from its documentation).
FIELDS = {
    "generate": {"mapping", "interval", "count", "batch_size", "auto_replay_nacks"},
    "broker_input": {"inputs", "copies", "batching"},
    "broker_output": {"pattern", "outputs", "copies", "batching"},
    "branch": {"request_map", "processors", "result_map"},
    "cache_processor": {"resource", "operator", "key", "value", "ttl"},
    "cache_output": {"target", "key", "ttl", "max_in_flight"},
    "sql_raw_processor": {
        "driver",
        "dsn",
        "query",
        "unsafe_dynamic_query",
        "args_mapping",
        "exec_only",
        "queries",
        "init_files",
        "init_statement",
    },
    "sql_raw_output": {
        "driver",
        "dsn",
        "query",
        "unsafe_dynamic_query",
        "args_mapping",
        "queries",
        "max_in_flight",
        "batching",
    },
    "sql_cache": {
        "driver",
        "dsn",
        "table",
        "key_column",
        "value_column",
        "set_suffix",
        "init_files",
        "init_statement",
    },
    "unarchive": {"format"},
    "redpanda_output": {"seed_brokers", "topic", "key", "partitioner", "max_in_flight"},
    "redpanda_input": {
        "seed_brokers",
        "topics",
        "regexp_topics_include",
        "consumer_group",
        "checkpoint_limit",
        "commit_period",
        "start_offset",
    },
    "switch": {"cases", "retry_until_success", "strict_mode"},
    "case": {"check", "output", "continue"},
}


def check(fields: str, value: dict, required: set[str] = frozenset()) -> None:
    assert set(value) <= FIELDS[fields], (fields, set(value) - FIELDS[fields])
    assert required <= set(value), (fields, required - set(value))


@pytest.mark.parametrize("files", [RETAIL, ERP], ids=["db-per-tenant", "db-shared"])
def test_configs_have_the_structure_redpanda_connect_expects(files: dict[str, str]) -> None:
    for source in configs(files, "source").values():
        assert set(source) == {"input", "cache_resources", "output"}
        check("broker_input", source["input"]["broker"], {"inputs"})
        for table_input in table_inputs(source):
            assert set(table_input) == {"label", "generate", "processors"}
            assert re.fullmatch(r"[a-z0-9_]+", table_input["label"])
            check("generate", table_input["generate"], {"mapping", "interval"})
            branch = table_input["processors"][0]["branch"]
            check("branch", branch, {"processors", "result_map"})
            check(
                "cache_processor", branch["processors"][0]["cache"], {"resource", "operator", "key"}
            )
            check(
                "sql_raw_processor",
                processor(table_input, "sql_raw"),
                {"driver", "dsn", "query", "args_mapping"},
            )
            check("unarchive", processor(table_input, "unarchive"), {"format"})
        [cache] = source["cache_resources"]
        assert cache["label"] == "checkpoints"
        check("sql_cache", cache["sql"], {"driver", "dsn", "table", "key_column", "value_column"})
        output = source["output"]["broker"]
        check("broker_output", output, {"pattern", "outputs"})
        check("redpanda_output", output["outputs"][0]["redpanda"], {"seed_brokers", "topic"})
        check("cache_output", output["outputs"][1]["cache"], {"target", "key"})
    for sink in configs(files, "sink").values():
        assert set(sink) == {"input", "output"}
        check(
            "redpanda_input",
            sink["input"]["redpanda"],
            {"seed_brokers", "topics", "consumer_group"},
        )
        check("switch", sink["output"]["switch"], {"cases"})
        for case in sink["output"]["switch"]["cases"]:
            check("case", case, {"check", "output"})
            check("sql_raw_output", case["output"]["sql_raw"], {"driver", "dsn", "query"})
            assert case["output"]["sql_raw"]["max_in_flight"] == 1  # per-table order kept
