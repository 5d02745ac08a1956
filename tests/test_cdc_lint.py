"""The CDC configs checked against Redpanda Connect's own component specification.

Redpanda Connect cannot run here: the lint reads the facts of its published specification
(vendored from ../shared/redpanda-connect/components-4.103.1.json) and parses Bloblang with
tree-sitter-bloblang. The SQL Server DSN is checked with a port of go-mssqldb's ADO parser
(`dataplatform.cdc.lint.mssql_dsn`), because the Go driver cannot run here either.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dataplatform.build.actions import action
from dataplatform.build.cdc_tasks import GenerateCdc
from dataplatform.cdc import connect, generate
from dataplatform.cdc.layout import declares_cdc
from dataplatform.cdc.lint import (
    GeneratedConfigInvalid,
    environment,
    facts,
    generated_configs,
    lint_config,
    lint_text,
    mssql_dsn,
)
from dataplatform.errors import UserError
from dataplatform.project import Project
from support import REPO, TempProject, copy_from_checkout
from support.cdc import add_reserved_word_columns, render_example

SPEC = REPO.parent / "shared/redpanda-connect/components-4.103.1.json"
REFRESH = REPO / "tools/scripts/refresh_connect_spec.py"


def shipped_cdc_pipelines() -> list[str]:
    names = []
    for directory in sorted((REPO / "pipelines").iterdir()):
        manifest = directory / "pipeline.yaml"
        if directory.name.startswith("_") or not manifest.is_file():
            continue
        if declares_cdc(directory, "cdc" in (yaml.safe_load(manifest.read_text()) or {})):
            names.append(directory.name)
    return names


def configs(files: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in files.items() if name.endswith(".yaml")}


# --- the vendored facts --------------------------------------------------------------------


def test_the_refresh_script_reproduces_the_vendored_facts_byte_for_byte(tmp_path: Path) -> None:
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is not beside this checkout")
    out = tmp_path / "facts.json"
    result = subprocess.run(
        [sys.executable, str(REFRESH), str(SPEC), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == facts.FACTS_FILE.read_bytes()
    vendored = json.loads(facts.FACTS_FILE.read_text())
    assert vendored["redpanda_connect_version"] == "4.103.1"
    assert vendored["derived_by"] == "tools/scripts/refresh_connect_spec.py"


def test_the_refresh_script_refuses_a_file_that_is_no_specification(tmp_path: Path) -> None:
    bad = tmp_path / "spec.json"
    bad.write_text('{"version": "9.9.9"}')
    out = tmp_path / "facts.json"
    result = subprocess.run(
        [sys.executable, str(REFRESH), str(bad), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        result.stderr.count("\n") == 1
        and "not a Redpanda Connect component specification" in result.stderr
        and "Traceback" not in result.stderr
    )
    assert not out.exists()


def test_the_vendored_facts_keep_only_what_the_lint_reads() -> None:
    text = facts.FACTS_FILE.read_text()
    assert "is_advanced" not in text and '"default"' not in text
    assert len(text) < SPEC.stat().st_size if SPEC.is_file() else True
    loaded = facts.load()
    assert "format_json" in loaded.methods and "batch_index" in loaded.functions
    assert loaded.components["processors"]["sql_raw"]["status"] == "stable"


# --- every generated config of every shipped and test pipeline is clean -------------------


def test_shipped_pipelines_are_found() -> None:
    assert {"erp_cdc", "retail_cdc"} <= set(shipped_cdc_pipelines())


@pytest.mark.parametrize("name", shipped_cdc_pipelines())
def test_every_generated_config_of_a_shipped_pipeline_is_clean(name: str) -> None:
    files = configs(render_example(name))
    assert files
    for path, text in files.items():
        assert lint_text(text, path) == [], path


ODD_GROUPS = """\
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
      north: {database: 'Shop "North"; x', env: prod}
      south-east: {database: Shop_Sør, env: prod}
"""

# Names a hand-written config gets wrong: spaces, a quote, a backslash, non-ASCII, reserved
ODD_PIPELINE = """\
name: odd_cdc
cdc:
  source_group: shop
  target_schema: shop
  tables:
    dbo.Order Lines:
      primary_key: [Order Id, Line"No]
      columns:
        Order Id: int
        Line"No: int
        'Back\\slash': nvarchar(20)
        Årsak: nvarchar(max)
        User: nvarchar(50)
"""


def odd_project(root: Path) -> Path:
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "platform/cdc").mkdir(parents=True)
    (root / "platform/cdc/source-groups.yaml").write_text(ODD_GROUPS)
    (root / "pipelines/odd_cdc").mkdir(parents=True)
    (root / "pipelines/odd_cdc/pipeline.yaml").write_text(ODD_PIPELINE)
    return root


def test_every_generated_config_of_the_test_pipelines_is_clean(tmp_path: Path) -> None:
    """A pipeline with awkward names (before the fix, a column `Line"No` was written as the
    Bloblang path `this."Line"No"` and `Back\\slash` as `this."Back\\slash"`: both broke the
    mapping), retail_cdc with reserved-word columns, and the CDC template's example tables."""
    odd = configs(render_example("odd_cdc", odd_project(tmp_path / "odd")))
    assert len(odd) == 3
    mapping = yaml.safe_load(odd["prod/source-north.yaml"])["input"]["broker"]["inputs"][0][
        "processors"
    ][4]["mapping"]
    assert 'this."Line\\"No"' in mapping and 'this."Back\\\\slash"' in mapping
    reserved = tmp_path / "reserved"
    for part in ("platform/cdc", "pipelines/retail_cdc", "templates"):
        copy_from_checkout(part, reserved)
    add_reserved_word_columns(reserved)
    template = REPO / "pipelines/_templates/cdc/{{cookiecutter.pipeline_name}}/config"
    (reserved / "pipelines/from_template/config").mkdir(parents=True)
    (reserved / "pipelines/from_template/pipeline.yaml").write_text("name: from_template\n")
    (reserved / "pipelines/from_template/config/cdc.yaml").write_text(
        (template / "cdc.example.yaml")
        .read_text()
        .replace("{{ cookiecutter.pipeline_name }}", "from_template")
    )
    files = {
        **odd,
        **{f"retail/{k}": v for k, v in configs(render_example("retail_cdc", reserved)).items()},
        **{
            f"template/{k}": v
            for k, v in configs(render_example("from_template", reserved)).items()
        },
    }
    assert any(name.startswith("template/") for name in files)
    for path, text in files.items():
        assert lint_text(text, path) == [], path


# --- each kind of finding, on a crafted config ---------------------------------------------

GOOD = """\
input:
  generate:
    interval: 1s
    mapping: root = {}
  processors:
  - mapping: root = this
output:
  redpanda:
    seed_brokers: [localhost:9092]
    topic: ${! @topic }
"""


def found(text: str) -> list[str]:
    return [str(f) for f in lint_text(text, "bad.yaml")]


def test_a_good_config_has_no_finding() -> None:
    assert found(GOOD) == []


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "  generate:",
            "  generat:",
            "bad.yaml:2: input.generat: unknown input component 'generat' — did you mean "
            "'generate'?",
        ),
        (
            "    interval: 1s",
            "    intervall: 1s",
            "bad.yaml:3: input.generate.intervall: unknown field — did you mean 'interval'?",
        ),
        (
            "    seed_brokers: [localhost:9092]",
            "    seed_brokers: localhost:9092",
            "bad.yaml:9: output.redpanda.seed_brokers: wrong kind: must be an array (a YAML "
            "list), got "
            "a single value",
        ),
        (
            "  processors:\n  - mapping: root = this",
            "  processors:\n    mapping: root = this",
            "bad.yaml:6: input.processors: wrong kind: must be an array (a YAML list), got a YAML "
            "mapping",
        ),
        (
            "    interval: 1s",
            "    interval: [1s]",
            "bad.yaml:3: input.generate.interval: wrong kind: must be a single value, got an array "
            "(a YAML list)",
        ),
        (
            "    interval: 1s",
            "    interval: 1s\n    count: many",
            "bad.yaml:4: input.generate.count: must be an integer, got 'many'",
        ),
        (
            "    topic: ${! @topic }",
            "    topic: ${! @topic }\n    compression: zip",
            "bad.yaml:11: output.redpanda.compression: 'zip' is not one of the options (lz4, "
            "snappy, "
            "gzip, none, zstd) — did you mean 'gzip'?",
        ),
        (
            "    mapping: root = {}\n",
            "",
            "bad.yaml:3: input.generate: required field 'mapping' missing (it has no default)",
        ),
        (
            "  - mapping: root = this",
            "  - sql:\n      driver: postgres\n      data_source_name: x\n      query: SELECT 1",
            "bad.yaml:6: input.processors[0].sql: deprecated processor component (Redpanda Connect "
            "4.103.1)",
        ),
        (
            "    mapping: root = {}",
            "    mapping: root = this.foo +",
            "bad.yaml:4: input.generate.mapping: Bloblang syntax error: missing 'identifier'",
        ),
        (
            "  - mapping: root = this",
            "  - mapping: |-\n      root.a = this.a\n      root.b = this.b.upercase()",
            "bad.yaml:8: input.processors[0].mapping: unknown Bloblang method 'upercase' — did you "
            "mean 'uppercase'?",
        ),
        (
            "    topic: ${! @topic }",
            '    topic: ${! metta("topic") }',
            "bad.yaml:10: output.redpanda.topic: in ${! ... }: unknown Bloblang function 'metta' — "
            "did you mean 'meta'?",
        ),
        (
            "    topic: ${! @topic }",
            "    topic: ${! @topic ",
            "bad.yaml:10: output.redpanda.topic: interpolation at offset 0 never closes (no "
            "matching '}')",
        ),
        (
            "    topic: ${! @topic }",
            "    topic: '${! root = @topic }'",
            "bad.yaml:10: output.redpanda.topic: in ${! ... }: an interpolation holds one Bloblang "
            "query (an expression), not a mapping",
        ),
        (
            "  - mapping: root = this",
            "  - label: Tidy Up\n    mapping: root = this",
            "bad.yaml:6: input.processors[0].label: invalid label 'Tidy Up': use lower-case "
            "letters, "
            "digits, '_' and '-', not first",
        ),
    ],
)
def test_each_kind_of_finding_is_named_with_file_path_and_line(
    old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    assert found(GOOD.replace(old, new, 1)) == [expected]


def test_a_deprecated_field_and_a_duplicate_label_are_findings() -> None:
    text = """\
input:
  label: poll
  redpanda:
    seed_brokers: [localhost:9092]
    topics: [t]
    regexp_topics: true
pipeline:
  processors:
  - label: poll
    mapping: root = this
"""
    assert found(text) == [
        "bad.yaml:6: input.redpanda.regexp_topics: deprecated field (Redpanda Connect "
        "4.103.1) — see its documentation for the replacement",
        "bad.yaml:9: pipeline.processors[0].label: label 'poll' is already used on line 2 — "
        "labels must be unique",
    ]


def test_a_switch_check_and_a_config_given_as_data_are_linted() -> None:
    config = {
        "output": {
            "switch": {
                "cases": [
                    {"check": 'this.table == "a"', "output": {"drop": {}}},
                    {"check": "this.table.lenght() > 2", "output": {"drop": {}}},
                ]
            }
        }
    }
    assert [str(f) for f in lint_config(config, "sink")] == [
        "sink: output.switch.cases[1].check: unknown Bloblang method 'lenght' — did you mean "
        "'length'?"
    ]


def test_an_unquoted_or_misplaced_substituted_mssql_credential_is_a_finding() -> None:
    text = """\
pipeline:
  processors:
  - sql_raw:
      driver: mssql
      dsn: server=h;user id="${U}";password=${P};database="d"
      query: SELECT 1
  - sql_raw:
      driver: mssql
      dsn: |-
        server="h";password="${P}";database="d"
      query: SELECT 1
"""
    assert found(text) == [
        "bad.yaml:5: pipeline.processors[0].sql_raw.dsn: a DSN with ${VAR} references must be a "
        "YAML block scalar (|-): values are substituted into the text before the YAML is read, "
        "so a ' #' or ': ' in a password would cut or break it",
        "bad.yaml:5: pipeline.processors[0].sql_raw.dsn: password=${P}: a substituted value "
        "must be double-quoted (password=\"${P}\"): a ';' in it would end it",
        "bad.yaml:10: pipeline.processors[1].sql_raw.dsn: the password must be the DSN's last "
        "value: a '\"' in it could otherwise swallow the values after it",
    ]


def test_not_yaml_is_one_finding() -> None:
    assert found("input: [a\n") == [
        "bad.yaml:2: (root): not valid YAML: did not find expected ',' or ']'"
    ]


# --- the SQL Server DSN --------------------------------------------------------------------


@pytest.mark.parametrize(
    "dsn, expected",
    [
        # cases of go-mssqldb v1.9.8's own tests (msdsn/conn_str_test.go)
        ('server=test;password="pass;word"', {"server": "test", "password": "pass;word"}),
        ('password="value with ""quotes"" inside"', {"password": 'value with "quotes" inside'}),
        ('password=""', {"password": ""}),
        (
            'server="host;name";password="pass;word"',
            {"server": "host;name", "password": "pass;word"},
        ),
        (
            'Server=tcp:sql.example.net,1433;Initial Catalog=Db;User Id=admin@x;Password="a[;]b"',
            {
                "server": "sql.example.net",
                "port": "1433",
                "database": "Db",
                "user id": "admin@x",
                "password": "a[;]b",
            },
        ),
        # unquoted: a `;` ends the value
        ("server=h;password=a;b", {"server": "h", "password": "a", "b": ""}),
    ],
)
def test_the_dsn_parser_reads_like_go_mssqldb(dsn: str, expected: dict[str, str]) -> None:
    assert mssql_dsn.parse(dsn) == expected


def test_environment_substitution_is_raw_like_redpanda_connect() -> None:
    env = {"A": "x;y", "NL": "a\nb", "EMPTY": ""}
    assert (
        environment.substitute("${A} ${EMPTY:d} ${NONE:http://h:1} ${NL} ${{A}}", env)
        == "x;y d http://h:1 a\\nb ${A}"
    )


RETAIL = render_example("retail_cdc")


def source_dsn(password: str, user: str = "cdc_reader") -> dict[str, str]:
    """The DSN Redpanda Connect hands the driver for oslo's first table, with these values in
    the environment: substituted into the config text, then the YAML read."""
    text = environment.substitute(
        RETAIL["prod/source-oslo.yaml"],
        {"RETAIL_MSSQL_USER": user, "RETAIL_MSSQL_PASSWORD": password},
    )
    config = yaml.safe_load(text)
    processors = config["input"]["broker"]["inputs"][0]["processors"]
    dsn = next(p["sql_raw"]["dsn"] for p in processors if "sql_raw" in p)
    return mssql_dsn.parse(dsn)


@pytest.mark.parametrize(
    "password",
    [
        ";",
        "pa;ss",
        "}",
        "{a}}b",
        "@",
        "/",
        "%",
        "%41",
        "p@ss/w%rd;x}",
        "a'b",
        "x #not a comment",
        "a: b",
        "k=v;k2=v2",
        " padded ",
        "back\\slash",
        "ünïcødé€",
        'one"quote',
        'ends"',
        "line\nbreak",
    ],
)
def test_any_password_but_a_quote_pair_survives_the_dsn(password: str) -> None:
    params = source_dsn(password, user="dom\\user;x")
    assert params["password"] == password.replace("\n", "\\n")  # Connect escapes a newline
    assert params["user id"] == "dom\\user;x"
    assert params["database"] == "Retail_Oslo"
    assert params["server"] == "mssql-nordic.internal" and params["port"] == "1433"
    assert params["app name"] == "dataplatform-cdc"


def test_a_double_quote_before_a_semicolon_is_the_one_unsafe_password() -> None:
    """Raw substitution cannot double a `"`: the documented limit of the quoted ADO form."""
    assert source_dsn('a";b')["password"] != 'a";b'


def test_a_literal_database_name_is_quoted_for_the_driver(tmp_path: Path) -> None:
    files = render_example("odd_cdc", odd_project(tmp_path))
    config = yaml.safe_load(
        environment.substitute(files["prod/source-north.yaml"], {"SHOP_PASSWORD": "x;y"})
    )
    dsn = config["input"]["broker"]["inputs"][0]["processors"][2]["sql_raw"]["dsn"]
    params = mssql_dsn.parse(dsn)
    assert params["database"] == 'Shop "North"; x' and params["password"] == "x;y"


# --- the generator refuses what fails the lint; invoke cdc.lint -------------------------


def _erp_sink_args(project: Project, source) -> tuple:
    from dataplatform.cdc import statements

    pipeline = generate.load(project, source)
    env = statements.environment(project.root / "templates")
    sinks = {t.qualified: statements.sink_statement(env, pipeline, t) for t in pipeline.tables}
    return pipeline, "nonprod", sinks


def test_a_generated_config_failing_the_lint_fails_the_task_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generator bug is simulated by patching the sink config (the real generator has none
    left to show)."""
    for part in ("platform/cdc", "pipelines/erp_cdc", "templates"):
        copy_from_checkout(part, tmp_path)
    real = connect.sink_config

    def broken(*args, **kwargs):
        config = real(*args, **kwargs)
        config["output"]["switch"]["strict_mod"] = True
        return config

    monkeypatch.setattr(connect, "sink_config", broken)
    project = Project(tmp_path)
    source = generate.find_source(tmp_path / "pipelines/erp_cdc", False)
    with pytest.raises(GeneratedConfigInvalid) as info:
        generate.generate(project, source)
    assert str(info.value).splitlines()[0] == (
        "pipelines/erp_cdc/generated/cdc/nonprod/sink.yaml:88: output.switch.strict_mod: "
        "unknown field — did you mean 'strict_mode'?"
    )
    text = connect.dump(broken(*_erp_sink_args(project, source)), ["header"] * 3)
    assert text.splitlines()[88 - 1].strip() == "strict_mod: true"  # the line named
    assert not (tmp_path / "pipelines/erp_cdc/generated").exists()
    failed = action(GenerateCdc(project, source))()  # as doit runs it
    assert failed is not None and "strict_mod: unknown field" in str(failed.message)


def test_invoke_cdc_lint_end_to_end(project: TempProject) -> None:
    for part in ("platform/cdc", "pipelines/erp_cdc", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    generated = project.doit("cdc:erp_cdc")
    assert generated.returncode == 0, generated.stdout + generated.stderr

    clean = project.invoke("cdc.lint")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip() == "✓ 4 generated CDC config(s) clean (Redpanda Connect 4.103.1)"

    config = project.root / "pipelines/erp_cdc/generated/cdc/prod/source.yaml"
    config.write_text(config.read_text().replace(".format_json(", ".format_jsn("))
    dirty = project.invoke("cdc.lint", "--pipeline", "erp_cdc")
    assert dirty.returncode == 1
    lines = dirty.stdout.splitlines()
    assert len(lines) == 2
    for line, index in zip(lines, (0, 1), strict=True):
        assert line.startswith("pipelines/erp_cdc/generated/cdc/prod/source.yaml:")
        assert line.endswith(
            f": input.broker.inputs[{index}].processors[4].mapping: unknown "
            "Bloblang method 'format_jsn' — did you mean 'format_json'?"
        )
    assert dirty.stderr.strip() == (
        "✗ 2 finding(s) in 1 of 4 generated CDC config(s) (Redpanda Connect 4.103.1) — a "
        "finding in a generated config is a bug of the CDC generator: report it"
    )

    unknown = project.invoke("cdc.lint", "--pipeline", "erp_cd")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip() == (
        "✗ --pipeline 'erp_cd': no pipelines/erp_cd/pipeline.yaml — did you mean 'erp_cdc'?"
    )


def test_a_pipeline_without_cdc_or_without_generated_configs_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pipelines/plain").mkdir(parents=True)
    (tmp_path / "pipelines/plain/pipeline.yaml").write_text("name: plain\n")
    (tmp_path / "pipelines/fresh").mkdir(parents=True)
    (tmp_path / "pipelines/fresh/pipeline.yaml").write_text("name: fresh\ncdc: {}\n")
    project = Project(tmp_path)
    with pytest.raises(UserError) as plain:
        generated_configs(project, "plain")
    assert str(plain.value) == (
        "--pipeline 'plain': declares no CDC (no cdc: section in "
        "pipelines/plain/pipeline.yaml, no config/cdc.yaml) — nothing to "
        "lint"
    )
    with pytest.raises(UserError) as fresh:
        generated_configs(project, "fresh")
    assert str(fresh.value) == (
        "no generated CDC configs in pipelines/fresh/generated/cdc — run "
        "`doit cdc:fresh` first (a pipeline without a cdc: section has "
        "none)"
    )
