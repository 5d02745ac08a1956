"""`doit` CDC tasks: exactly the affected pipeline regenerates, unchanged files are not
rewritten, removed tenants lose their files, a no-op touches nothing, bad input writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import TempProject, copy_from_checkout, executed

OUT = "generated/cdc"


def snapshot(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.glob(f"pipelines/*/{OUT}/**/*")
        if p.is_file()
    }


@pytest.fixture
def cdc_project(project: TempProject) -> TempProject:
    for part in ("platform/cdc", "pipelines/retail_cdc", "pipelines/erp_cdc", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    first = project.doit("cdc")
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(executed(first)) == ["cdc:erp_cdc", "cdc:retail_cdc"]
    return project


def test_no_op_runs_nothing_and_touches_nothing(cdc_project: TempProject) -> None:
    before = snapshot(cdc_project.root)
    again = cdc_project.doit("cdc")
    assert again.returncode == 0 and executed(again) == []
    assert snapshot(cdc_project.root) == before


def test_changing_one_pipeline_regenerates_only_it_and_only_changed_files(
    cdc_project: TempProject,
) -> None:
    before = snapshot(cdc_project.root)
    manifest = cdc_project.root / "pipelines/erp_cdc/config/cdc.yaml"
    manifest.write_text(
        manifest.read_text().replace("Blocked: bit", "Blocked: bit\n      Closed: date")
    )
    result = cdc_project.doit("cdc")
    assert executed(result) == ["cdc:erp_cdc"]
    after = snapshot(cdc_project.root)
    changed = sorted(p for p in after if after[p] != before.get(p))
    prefix = f"pipelines/erp_cdc/{OUT}/"
    assert changed == [
        prefix + p
        for p in (
            "manifest.json",
            "nonprod/sink.yaml",
            "nonprod/source.yaml",
            "prod/sink.yaml",
            "prod/source.yaml",
        )
    ]


def test_removing_a_tenant_deletes_its_files(cdc_project: TempProject) -> None:
    groups = cdc_project.root / "platform/cdc/source-groups.yaml"
    text = groups.read_text()
    start = text.index("      stavanger:")
    end = text.index("      demo:")
    groups.write_text(text[:start] + text[end:])
    before = snapshot(cdc_project.root)
    result = cdc_project.doit("cdc")
    assert result.returncode == 0, result.stdout
    assert "1 removed" in result.stdout
    out = cdc_project.root / "pipelines/retail_cdc" / OUT
    assert not (out / "prod/source-stavanger.yaml").exists()
    assert (out / "prod/source-oslo.yaml").exists()
    after = snapshot(cdc_project.root)
    # the other group's pipeline did not run: its group's value is unchanged
    assert executed(result) == ["cdc:retail_cdc"]
    erp = [p for p in after if p.startswith("pipelines/erp_cdc/")]
    assert [p for p in erp if after[p] != before[p]] == []


def test_an_edited_generated_file_is_restored(cdc_project: TempProject) -> None:
    sink = cdc_project.root / "pipelines/retail_cdc" / OUT / "prod/sink.yaml"
    original = sink.read_text()
    sink.write_text("hand edit\n")
    result = cdc_project.doit("cdc")
    assert executed(result) == ["cdc:retail_cdc"]
    assert sink.read_text() == original


def test_dropping_the_cdc_section_removes_the_output(cdc_project: TempProject) -> None:
    shutil.rmtree(cdc_project.root / "pipelines/erp_cdc/config")
    result = cdc_project.doit("cdc")
    assert result.returncode == 0, result.stdout
    assert not (cdc_project.root / "pipelines/erp_cdc" / OUT).exists()
    assert executed(cdc_project.doit("cdc")) == []


def test_bad_input_is_one_line_and_writes_nothing(cdc_project: TempProject) -> None:
    before = snapshot(cdc_project.root)
    manifest = cdc_project.root / "pipelines/erp_cdc/config/cdc.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "primary_key: [CompanyId, AccountNo]", "primary_key: [CompanyId, AcountNo]"
        )
    )
    result = cdc_project.doit("cdc")
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert lines == [
        "✗ cdc:erp_cdc: pipelines/erp_cdc/config/cdc.yaml:15: "
        "tables.dbo.Account.primary_key[1]: primary-key column 'AcountNo' is not "
        "among the columns — did you mean 'AccountNo'?"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert snapshot(cdc_project.root) == before


def test_a_source_groups_problem_is_reported_once_and_other_groups_still_generate(
    project: TempProject,
) -> None:
    """The broken group (erp) sorts first: its problem must not stop retail_cdc, nor be
    reported under a pipeline's name."""
    for part in ("platform/cdc", "pipelines/retail_cdc", "pipelines/erp_cdc", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    groups = project.root / "platform/cdc/source-groups.yaml"
    good = groups.read_text()
    groups.write_text(good.replace("pattern: db-shared ", "pattern: db-sharde "))
    line = good.splitlines().index(next(x for x in good.splitlines() if "db-shared " in x)) + 1
    problem = (
        f"✗ cdc:source-groups: platform/cdc/source-groups.yaml:{line}: groups.erp.pattern: "
        "pattern must be db-per-tenant or db-shared, got string 'db-sharde'"
    )
    result = project.doit("cdc")
    assert result.returncode == 1
    assert [x for x in result.stdout.splitlines() if x.startswith("✗")] == [problem]
    assert executed(result) == ["cdc:retail_cdc", "cdc:source-groups"]
    assert (project.root / "pipelines/retail_cdc" / OUT / "prod/sink.yaml").exists()
    assert not (project.root / "pipelines/erp_cdc" / OUT).exists()
    assert "Traceback" not in result.stdout + result.stderr

    # even when doit goes on after a failure, the erp pipeline is not run on a broken group
    going_on = project.doit("--continue", "cdc:erp_cdc")
    assert going_on.returncode != 0
    assert [x for x in going_on.stdout.splitlines() if x.startswith("✗")] == [
        problem,
        "✗ cdc:erp_cdc: not run, it needs cdc:source-groups, which failed",
    ]
    assert not (project.root / "pipelines/erp_cdc" / OUT).exists()

    groups.write_text(good)
    fixed = project.doit("cdc")
    assert fixed.returncode == 0, fixed.stdout
    # retail's group never changed meaning: only the pipeline of the fixed group runs
    assert executed(fixed) == ["cdc:erp_cdc"]
    assert (project.root / "pipelines/erp_cdc" / OUT / "prod/sink.yaml").exists()
    assert executed(project.doit("cdc")) == []


def test_an_unreadable_source_groups_file_is_reported_once(project: TempProject) -> None:
    for part in ("platform/cdc", "pipelines/retail_cdc", "pipelines/erp_cdc"):
        copy_from_checkout(part, project.root)
    (project.root / "platform/cdc/source-groups.yaml").write_text("groups: [\n")
    result = project.doit("cdc")
    assert result.returncode == 1
    failures = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert len(failures) == 1
    assert failures[0].startswith(
        "✗ cdc:source-groups: platform/cdc/source-groups.yaml:2: invalid YAML"
    )
    assert not list(project.root.glob(f"pipelines/*/{OUT}"))


def test_two_pipelines_landing_in_one_table_is_an_error(cdc_project: TempProject) -> None:
    """A second pipeline into the same schema and table would overwrite the first one's rows."""
    root = cdc_project.root
    copy = root / "pipelines/erp_gl_cdc"
    (copy / "config").mkdir(parents=True)
    (copy / "pipeline.yaml").write_text("name: erp_gl_cdc\n")
    text = (root / "pipelines/erp_cdc/config/cdc.yaml").read_text()
    text = text.replace(
        "tables:\n",
        "tables:\n  dbo.Budget:\n    primary_key: [CompanyId, Code]\n"
        "    columns: {CompanyId: int, Code: int}\n",
    )
    (copy / "config/cdc.yaml").write_text(text)
    lines = text.splitlines()
    result = cdc_project.doit("cdc")
    assert result.returncode == 1
    here = lines.index("  dbo.GLEntry:") + 1
    there = (root / "pipelines/erp_cdc/config/cdc.yaml").read_text().splitlines().index(
        "  dbo.GLEntry:"
    ) + 1
    assert [x for x in result.stdout.splitlines() if x.startswith("✗")] == [
        f"✗ cdc:erp_gl_cdc: pipelines/erp_gl_cdc/config/cdc.yaml:{here}: tables.dbo.GLEntry: "
        f"dbo.GLEntry and dbo.GLEntry of pipeline erp_cdc (pipelines/erp_cdc/config/cdc.yaml:"
        f"{there}) both become PostgreSQL relation 'erp.gl_entry' — set another target_schema "
        "or target_table"
    ]
    assert not (copy / OUT).exists()

    (copy / "config/cdc.yaml").write_text(text.replace("target_schema: erp", "target_schema: gl"))
    fixed = cdc_project.doit("cdc")
    assert fixed.returncode == 0, fixed.stdout
    assert executed(fixed) == ["cdc:erp_gl_cdc"]
