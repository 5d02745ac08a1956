"""Content decides downstream: a change that writes nothing stops the chain.

Real doit, real dbt on DuckDB, the repository's own CDC pipelines (retail_cdc over the
db-per-tenant group `retail`, erp_cdc over the db-shared group `erp`) and stavanger_parking
(no CDC). After a first full `doit`, each case asserts exactly which tasks executed (doit's
`.  task` lines)."""

from __future__ import annotations

import pytest

from support import TempProject, copy_from_checkout, executed, require_dbt_extra

require_dbt_extra()  # skips (fails under CI) without the dbt extra

GROUPS = "platform/cdc/source-groups.yaml"
TASKS = ("cdc", "warehouse", "dbt")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> TempProject:
    """One built checkout shared by the cases; each case restores what it changed."""
    import shutil

    from support import REPO

    root = tmp_path_factory.mktemp("chain") / "checkout"
    root.mkdir()
    for part in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / part, root / part)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "platform").mkdir()
    (root / "platform/services.yaml").write_text("namespace: dpchain\nservices: {}\n")
    for part in (
        "platform/cdc",
        "pipelines/_templates",
        "pipelines/shared",
        "pipelines/retail_cdc",
        "pipelines/erp_cdc",
        "pipelines/stavanger_parking",
    ):
        copy_from_checkout(part, root)
    project = TempProject(root, "dpchain")
    first = project.doit("-n", "2", "-P", "thread", *TASKS)
    assert first.returncode == 0, first.stdout + first.stderr
    assert executed(first, "dbt:") == ["dbt:erp_cdc", "dbt:retail_cdc", "dbt:stavanger_parking"], (
        first.stdout
    )
    assert executed(project.doit(*TASKS)) == []
    return project


def _edit(project: TempProject, relpath: str, old: str, new: str) -> str:
    path = project.root / relpath
    text = path.read_text()
    assert old in text, f"{relpath} no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1))
    return text


def test_a_comment_in_the_source_groups_runs_nothing(built: TempProject) -> None:
    """The issue's case: the comment re-ran every CDC task (0 files written), then every dbt
    build. The CDC tasks read their group's value, not the file's bytes."""
    path = built.root / GROUPS
    before = path.read_text()
    try:
        path.write_text(before + "# reviewed by the platform team\n")
        result = built.doit(*TASKS)
        assert result.returncode == 0, result.stdout + result.stderr
        assert executed(result) == [], result.stdout
    finally:
        path.write_text(before)
        built.doit(*TASKS)


def test_removing_a_tenant_rebuilds_only_the_pipeline_whose_output_changed(
    built: TempProject,
) -> None:
    """Removing retail's `stavanger` tenant: retail_cdc regenerates (its tenant's configs go);
    erp_cdc (another group) and the pipeline without CDC run nothing, and dbt runs only where
    the generated staging changed."""
    text = built.root.joinpath(GROUPS).read_text()
    start, end = text.index("      stavanger:"), text.index("      demo:")
    try:
        built.root.joinpath(GROUPS).write_text(text[:start] + text[end:])
        result = built.doit(*TASKS)
        assert result.returncode == 0, result.stdout + result.stderr
        ran = executed(result)
        assert "cdc:retail_cdc" in ran, result.stdout
        assert not [t for t in ran if t.endswith((":erp_cdc", ":stavanger_parking"))], ran
        staging = built.root / "pipelines/retail_cdc/dbt/models/staging"
        assert not list(staging.rglob("*stavanger*"))
    finally:
        built.root.joinpath(GROUPS).write_text(text)
        built.doit(*TASKS)


def test_a_table_of_another_pipeline_changes_only_that_pipeline(built: TempProject) -> None:
    """erp_cdc drops a column: its generator, DDL and dbt build run, nothing of the others."""
    before = _edit(
        built, "pipelines/erp_cdc/config/cdc.yaml", "      Description: nvarchar(250)\n", ""
    )
    try:
        result = built.doit(*TASKS)
        assert result.returncode == 0, result.stdout + result.stderr
        assert executed(result) == ["cdc:erp_cdc", "dbt:erp_cdc", "warehouse:erp_cdc"], (
            result.stdout
        )
    finally:
        built.root.joinpath("pipelines/erp_cdc/config/cdc.yaml").write_text(before)
        built.doit(*TASKS)


def test_an_unchanged_output_stops_the_chain_after_a_real_run(built: TempProject) -> None:
    """A comment in a pipeline's CDC config re-runs its generator (its own input changed) but
    writes nothing, so neither its warehouse DDL nor its dbt build runs."""
    before = _edit(
        built,
        "pipelines/erp_cdc/config/cdc.yaml",
        "Blocked: bit",
        "Blocked: bit  # kept for audits",
    )
    try:
        result = built.doit(*TASKS)
        assert result.returncode == 0, result.stdout + result.stderr
        assert not [t for t in executed(result) if t.startswith(("dbt", "warehouse"))], (
            result.stdout
        )
    finally:
        built.root.joinpath("pipelines/erp_cdc/config/cdc.yaml").write_text(before)
        built.doit(*TASKS)


def test_touching_every_file_runs_nothing(built: TempProject) -> None:
    """Content, not clocks: generated files touched (a fresh clone's checkout, `touch`) are
    still what their generator wrote, so no generator re-runs."""
    import os
    import time

    later = time.time() + 60
    for path in built.root.rglob("*"):
        if path.is_file() and not path.name.startswith(".doit.db"):
            os.utime(path, (later, later))
    result = built.doit(*TASKS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert executed(result) == [], result.stdout
