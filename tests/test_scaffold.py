"""create-pipeline: from template to a pipeline doit builds green, with clear errors and no
half-created folders."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from support import REPO, TempProject, clean_env, copy_from_checkout, executed


@pytest.fixture
def repo(project: TempProject) -> TempProject:
    for part in ("pipelines/_templates", "pipelines/shared"):
        copy_from_checkout(part, project.root)
    return project


def pipeline_dirs(project: TempProject) -> list[str]:
    return sorted(p.name for p in (project.root / "pipelines").iterdir())


def test_creates_the_full_layout_and_keeps_dbt_jinja(repo: TempProject) -> None:
    result = repo.invoke(
        "create-pipeline", "sales_daily", "--description", 'Daily "sales"', "--owner", "revenue"
    )
    assert result.returncode == 0, result.stderr
    root = repo.root / "pipelines/sales_daily"
    for folder in (
        "dbt",
        "orchestration",
        "notebooks",
        "scripts",
        "config",
        "docs",
        "data/raw",
        "data/staging",
        "data/processed",
        "data/temp",
    ):
        assert (root / folder).is_dir(), folder
    manifest = yaml.safe_load((root / "pipeline.yaml").read_text())
    assert manifest["name"] == "sales_daily"
    assert manifest["description"] == 'Daily "sales"' and manifest["owner"] == "revenue"
    assert manifest["template"]["name"] == "dbt"
    assert manifest["template"]["fingerprint"].startswith("v2-sha256:")
    assert "{{ ref('events') }}" in (root / "dbt/models/staging/stg_events.sql").read_text()
    assert "name: sales_daily" in (root / "dbt/dbt_project.yml").read_text()
    assert (root / "data/raw/.gitkeep").exists()


def test_new_pipeline_is_discovered_and_builds_green(repo: TempProject) -> None:
    assert repo.invoke("create-pipeline", "fresh_one").returncode == 0
    listed = repo.doit("list", "--all")
    assert "dbt:fresh_one" in listed.stdout
    built = repo.doit("dbt")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "dbt:fresh_one: Done. PASS=" in built.stdout


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Sales", "is not a lowercase identifier"),
        ("shared", "is reserved"),
        ("_private", "starts with '_'"),
        ("../escape", "contains a path"),
        ("a/b", "contains a path"),
        ("9lives", "is not a lowercase identifier"),
        # a pipeline's name is also its DuckDB catalog and PostgreSQL schema: these cannot build
        ("main", "'main' is reserved by DuckDB"),
        ("system", "'system' is reserved by DuckDB"),
        ("temp", "'temp' is reserved by DuckDB"),
        ("pg_sync", "starts with 'pg_', which PostgreSQL reserves"),
        ("dbt", "'dbt' is the name of one of dbt's own packages"),
    ],
)
def test_bad_names_are_one_line_and_create_nothing(
    repo: TempProject, name: str, problem: str
) -> None:
    before = pipeline_dirs(repo)
    result = repo.invoke("create-pipeline", name)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and problem in result.stderr
    assert pipeline_dirs(repo) == before


def test_existing_pipeline_and_unknown_template(repo: TempProject) -> None:
    assert repo.invoke("create-pipeline", "twice").returncode == 0
    again = repo.invoke("create-pipeline", "twice")
    assert again.returncode == 1 and "pipelines/twice already exists" in again.stderr
    unknown = repo.invoke("create-pipeline", "other", "--template", "airflow")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "✗ there is no pipeline template 'airflow' in pipelines/_templates/ — available: cdc, dbt"
    )


def test_a_failing_render_leaves_no_folder_behind(repo: TempProject) -> None:
    broken = repo.root / "pipelines/_templates/dbt/{{cookiecutter.pipeline_name}}/docs/README.md"
    broken.write_text("{{ cookiecutter.pipeline_name | no_such_filter }}\n")
    before = pipeline_dirs(repo)
    result = repo.invoke("create-pipeline", "doomed")
    assert result.returncode == 1
    assert "template 'dbt' failed to render" in result.stderr
    assert "nothing was created" in result.stderr and "Traceback" not in result.stderr
    assert pipeline_dirs(repo) == before  # no pipeline, no leftover staging folder


def test_never_prompts_and_the_shim_works(repo: TempProject) -> None:
    shim = repo.root / "tools/cli/create-pipeline"
    shim.parent.mkdir(parents=True)
    shutil.copy(REPO / "tools/cli/create-pipeline", shim)
    venv_bin = str(REPO / ".venv/bin")
    env = clean_env(PATH=f"{venv_bin}:/usr/bin:/bin")
    done = subprocess.run(
        [str(shim), "quiet_one", "--template", "cdc"],
        cwd=repo.root / "tools",
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (repo.root / "pipelines/quiet_one/config/cdc.example.yaml").exists()
    built = repo.doit("dbt:quiet_one")  # an empty CDC dbt project builds, then settles
    assert built.returncode == 0 and "nothing to build yet" in built.stdout, built.stdout
    assert "1 up to date" in repo.doit("dbt:quiet_one").stdout


def test_outdated_lists_pipelines_behind_their_template(repo: TempProject) -> None:
    assert repo.invoke("create-pipeline", "old_one").returncode == 0
    assert "every pipeline matches" in repo.invoke("pipelines.outdated").stdout
    template = repo.root / "pipelines/_templates/dbt/{{cookiecutter.pipeline_name}}"
    (template / "scripts/new_helper.py").write_text("print('new')\n")
    report = repo.invoke("pipelines.outdated")
    assert report.returncode == 0
    assert "old_one" in report.stdout and "1 pipeline(s) behind" in report.stdout


def git(root, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=root,
        check=True,
        capture_output=True,
        env=clean_env(
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@x",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@x",
        ),
    )


def test_update_merges_template_changes_and_keeps_local_edits(repo: TempProject) -> None:
    git(repo.root, "init", "-q")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "template v1")
    assert repo.invoke("create-pipeline", "demo").returncode == 0
    mart = repo.root / "pipelines/demo/dbt/models/marts/daily_sales.sql"
    mart.write_text(mart.read_text() + "-- local: reviewed by finance\n")

    template = repo.root / "pipelines/_templates/dbt/{{cookiecutter.pipeline_name}}"
    template_mart = template / "dbt/models/marts/daily_sales.sql"
    template_mart.write_text("-- Revenue per day.\n" + template_mart.read_text())
    (template / "scripts/backfill.sh").write_text("#!/bin/sh\necho backfill\n")
    readme = template / "docs/README.md"
    readme.write_text(readme.read_text() + "\nSee the runbook.\n")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "template v2")
    assert "demo" in repo.invoke("pipelines.outdated").stdout

    result = repo.invoke("pipelines.update", "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    merged = mart.read_text()
    assert merged.startswith("-- Revenue per day.\n")
    assert merged.endswith("-- local: reviewed by finance\n")
    assert (repo.root / "pipelines/demo/scripts/backfill.sh").exists()
    assert "See the runbook." in (repo.root / "pipelines/demo/docs/README.md").read_text()
    assert "every pipeline matches" in repo.invoke("pipelines.outdated").stdout

    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "demo updated")
    template_mart.write_text(
        template_mart.read_text().replace(
            "    count(*) as sales,", "    count(distinct event_id) as sales,"
        )
    )
    mart.write_text(
        mart.read_text().replace("    count(*) as sales,", "    count(*) as sale_count,")
    )
    git(repo.root, "add", "pipelines/_templates")
    git(repo.root, "commit", "-qm", "template v3")
    conflict = repo.invoke("pipelines.update", "demo")
    assert conflict.returncode == 1
    assert (
        "CONFLICT (content): Merge conflict in dbt/models/marts/daily_sales.sql" in conflict.stdout
    )
    text = mart.read_text()
    assert "<<<<<<< pipeline" in text and ">>>>>>> template (new)" in text


@pytest.mark.parametrize("template", ["dbt", "cdc"])
def test_a_new_pipeline_builds_green_after_every_documented_step(
    repo: TempProject, template: str
) -> None:
    """The steps are the template's own: create it, run doit; for cdc, rename
    config/cdc.example.yaml to cdc.yaml as its first comment says, run doit again."""
    for part in ("platform/cdc", "platform/orchestration"):
        copy_from_checkout(part, repo.root)
    created = repo.invoke("create-pipeline", "orders", "--template", template)
    assert created.returncode == 0 and "doit dbt:orders" in created.stdout
    built = repo.doit()
    assert built.returncode == 0, built.stdout + built.stderr
    assert "dbt:orders: " in built.stdout and "validate:orders: 1 DAG valid" in built.stdout
    if template == "cdc":
        config = repo.root / "pipelines/orders/config"
        assert (config / "cdc.example.yaml").read_text().startswith("# Rename to cdc.yaml")
        assert "rename pipelines/orders/config/cdc.example.yaml to cdc.yaml" in created.stdout
        (config / "cdc.example.yaml").rename(config / "cdc.yaml")
        built = repo.doit()
        assert built.returncode == 0, built.stdout + built.stderr
        assert re.search(r"dbt:orders: Done\. PASS=\d+ WARN=0 ERROR=0", built.stdout)
        # the next example file of the template, renamed as its first comment says
        for example in sorted(config.glob("*.example.yaml")):
            assert example.read_text().startswith("# Rename to "), example.name
            example.rename(config / example.name.replace(".example", ""))
            built = repo.doit()
            assert built.returncode == 0, example.name + built.stdout + built.stderr
    again = repo.doit()
    assert again.returncode == 0 and executed(again, "dbt") == [], again.stdout


def test_a_cdc_schema_named_like_its_pipeline_is_one_line(repo: TempProject) -> None:
    """target_schema equal to the pipeline's name is the DuckDB catalog's name too: dbt fails
    on it with an "Ambiguous reference"; it is refused before anything is generated."""
    copy_from_checkout("platform/cdc", repo.root)
    assert repo.invoke("create-pipeline", "orders", "--template", "cdc").returncode == 0
    config = repo.root / "pipelines/orders/config"
    text = (config / "cdc.example.yaml").read_text()
    (config / "cdc.yaml").write_text(
        text.replace("target_schema: orders_raw", "target_schema: orders")
    )
    result = repo.doit("cdc:orders")
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if x.startswith("✗"))
    assert re.search(
        r"pipelines/orders/config/cdc\.yaml:\d+: target_schema: schema name "
        r"'orders' is the pipeline's own name",
        line,
    ), line
    assert "Traceback" not in result.stdout + result.stderr
    assert not (repo.root / "pipelines/orders/generated").exists()
    # left out, the schema defaults to <pipeline>_raw, which builds
    (config / "cdc.yaml").write_text(re.sub(r"(?m)^target_schema:.*\n", "", text))
    built = repo.doit("dbt:orders")
    assert built.returncode == 0, built.stdout
    assert (repo.root / "pipelines/orders/dbt/models/staging/orders_raw").is_dir()


def test_a_hand_made_pipeline_with_a_reserved_name_is_one_line(repo: TempProject) -> None:
    (repo.root / "pipelines/temp").mkdir()
    (repo.root / "pipelines/temp/pipeline.yaml").write_text("name: temp\n")
    result = repo.doit("list")
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "✗ pipelines/temp/pipeline.yaml:1: name: pipeline name 'temp' is reserved by "
        "DuckDB (main, system, temp, memory, information_schema, pg_catalog) — it also names "
        "the pipeline's dbt project, DuckDB catalog and PostgreSQL schema: rename the folder "
        "and this name"
    )


# --- pipelines.update and pipelines.outdated against real git history -------------------------

TEMPLATE = "pipelines/_templates/dbt/{{cookiecutter.pipeline_name}}"


def committed(repo: TempProject, message: str, *paths: str) -> None:
    git(repo.root, "add", *(paths or ("-A",)))
    git(repo.root, "commit", "-qm", message)


def made_from_committed_template(repo: TempProject, name: str = "demo") -> None:
    git(repo.root, "init", "-q")
    committed(repo, "template v1")
    assert repo.invoke("create-pipeline", name).returncode == 0
    committed(repo, f"{name} created")


def recorded_fingerprint(repo: TempProject, name: str = "demo") -> str:
    manifest = yaml.safe_load((repo.root / f"pipelines/{name}/pipeline.yaml").read_text())
    return manifest["template"]["fingerprint"]


def test_a_file_deleted_here_and_changed_in_the_template_is_a_conflict(repo: TempProject) -> None:
    made_from_committed_template(repo)
    readme = repo.root / "pipelines/demo/docs/README.md"
    readme.unlink()
    template_readme = repo.root / TEMPLATE / "docs/README.md"
    template_readme.write_text(template_readme.read_text() + "\nSee the runbook.\n")
    committed(repo, "template v2", "pipelines/_templates")
    before = recorded_fingerprint(repo)

    result = repo.invoke("pipelines.update", "demo")
    assert result.returncode == 1
    assert (
        "CONFLICT (modify/delete): docs/README.md deleted here and changed in the "
        "template" in result.stdout
    ), result.stdout
    assert "added" not in result.stdout
    assert not readme.exists()  # not resurrected
    assert recorded_fingerprint(repo) == before
    assert "demo" in repo.invoke("pipelines.outdated").stdout


def test_conflicts_keep_the_recorded_fingerprint_until_they_are_resolved(repo: TempProject) -> None:
    made_from_committed_template(repo)
    mart = repo.root / "pipelines/demo/dbt/models/marts/daily_sales.sql"
    mart.write_text(mart.read_text().replace("count(*) as sales,", "count(*) as sale_count,"))
    template_mart = repo.root / TEMPLATE / "dbt/models/marts/daily_sales.sql"
    template_mart.write_text(
        template_mart.read_text().replace(
            "count(*) as sales,", "count(distinct event_id) as sales,"
        )
    )
    committed(repo, "template v2", "pipelines/_templates")
    before = recorded_fingerprint(repo)

    conflict = repo.invoke("pipelines.update", "demo")
    assert conflict.returncode == 1
    assert (
        "CONFLICT (content): Merge conflict in dbt/models/marts/daily_sales.sql" in conflict.stdout
    )
    assert recorded_fingerprint(repo) == before  # outdated still lists it
    listed = repo.invoke("pipelines.outdated").stdout
    assert "demo" in listed and "update in progress" in listed

    # the markers are found before dbt parses them as SQL
    marker_line = mart.read_text().splitlines().index("<<<<<<< pipeline") + 1
    built = repo.doit("dbt:demo")
    assert built.returncode == 1
    assert (
        f"✗ dbt:demo: pipelines/demo/dbt/models/marts/daily_sales.sql:{marker_line}: "
        "unresolved merge conflict marker" in built.stdout
    ), built.stdout
    again = repo.invoke("pipelines.update", "demo")
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert f"daily_sales.sql:{marker_line}: unresolved merge conflict marker" in again.stderr
    assert recorded_fingerprint(repo) == before

    text = mart.read_text()
    resolved = re.sub(
        r"<<<<<<< pipeline\n.*?=======\n(.*?)>>>>>>> template \(new\)\n", r"\1", text, flags=re.S
    )
    assert "<<<<<<<" not in resolved
    mart.write_text(resolved)
    finished = repo.invoke("pipelines.update", "demo")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert recorded_fingerprint(repo) != before
    assert not (repo.root / "pipelines/demo/.template-update.yaml").exists()
    assert "every pipeline matches" in repo.invoke("pipelines.outdated").stdout
    assert repo.doit("dbt:demo").returncode == 0


def test_update_refuses_an_uncommitted_template(repo: TempProject) -> None:
    made_from_committed_template(repo)
    (repo.root / TEMPLATE / "scripts/backfill.sh").write_text("#!/bin/sh\necho backfill\n")
    assert "demo" in repo.invoke("pipelines.outdated").stdout
    result = repo.invoke("pipelines.update", "demo")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert (
        "✗ pipelines/_templates/dbt has uncommitted changes "
        "(pipelines/_templates/dbt/{{cookiecutter.pipeline_name}}/scripts/backfill.sh) — "
        "commit them first"
    ) in result.stderr, result.stderr
    assert not (repo.root / "pipelines/demo/scripts/backfill.sh").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain", "pipelines/demo"],
        cwd=repo.root,
        capture_output=True,
        text=True,
    ).stdout
    assert status == ""  # nothing of the pipeline changed


def test_a_binary_file_edited_on_both_sides_is_kept_not_emptied(repo: TempProject) -> None:
    picture = "docs/diagram.png"
    (repo.root / TEMPLATE / picture).write_bytes(b"\x89PNG\r\n\x1a\n\0v1")
    made_from_committed_template(repo)
    ours = repo.root / "pipelines/demo" / picture
    ours.write_bytes(b"\x89PNG\r\n\x1a\n\0ours")
    (repo.root / TEMPLATE / picture).write_bytes(b"\x89PNG\r\n\x1a\n\0v2")
    committed(repo, "template v2", "pipelines/_templates")

    result = repo.invoke("pipelines.update", "demo")
    assert result.returncode == 1
    assert "CONFLICT (binary): docs/diagram.png edited here and in the template" in result.stdout
    assert ours.read_bytes() == b"\x89PNG\r\n\x1a\n\0ours"


def test_the_example_pipeline_matches_its_template_on_a_fresh_clone(repo: TempProject) -> None:
    copy_from_checkout("pipelines/stavanger_parking", repo.root)
    report = repo.invoke("pipelines.outdated")
    assert report.returncode == 0, report.stderr
    assert "every pipeline matches" in report.stdout, report.stdout


def test_a_comment_only_template_change_is_not_a_change(repo: TempProject) -> None:
    made_from_committed_template(repo)
    template = repo.root / TEMPLATE
    for relpath, comment in (
        ("pipeline.yaml", "# who to ask: #data-platform\n"),
        ("dbt/dbt_project.yml", "  # materializations above\n"),
        ("dbt/models/marts/daily_sales.sql", "-- revenue per day\n"),
        ("dbt/models/staging/stg_events.sql", "{# raw events #}\n"),
        ("docs/README.md", "<!-- keep this short -->\n"),
    ):
        path = template / relpath
        path.write_text(path.read_text() + comment)
    committed(repo, "template comments", "pipelines/_templates")
    assert "every pipeline matches" in repo.invoke("pipelines.outdated").stdout
    update = repo.invoke("pipelines.update", "demo")
    assert update.returncode == 0 and "already matches its template" in update.stdout

    # what a comment marker inside a value or a block scalar holds is no comment
    yaml_file = template / "pipeline.yaml"
    yaml_file.write_text(
        yaml_file.read_text().replace('schedule: "@daily"', 'schedule: "@daily # not a comment"')
    )
    assert "demo" in repo.invoke("pipelines.outdated").stdout


@pytest.mark.parametrize(
    ("relpath", "before", "after", "same"),
    [
        ("a.yaml", 'k: "x # y"\n', 'k: "x # z"\n', False),
        ("a.yaml", "k: |\n  # heading\n", "k: |\n  # other heading\n", False),
        ("a.yaml", "k: v\n", "k: v   # note\n\n# more\n", True),
        ("a.sql", "select '--' as a\n", "select '-- x' as a\n", False),
        ("a.sql", "select 1\n", "/* a\n   b */\nselect 1 -- one\n", True),
        ("run.sh", "#!/bin/sh\necho\n", "#!/bin/bash\necho\n", False),
        ("run.sh", "#!/bin/sh\necho\n", "#!/bin/sh\n# say nothing\necho\n", True),
    ],
)
def test_what_counts_as_only_a_comment(relpath: str, before: str, after: str, same: bool) -> None:
    from dataplatform.scaffold.comments import significant

    assert (significant(relpath, before.encode()) == significant(relpath, after.encode())) is same


def test_a_malformed_cookiecutter_json_is_one_line(repo: TempProject) -> None:
    context = repo.root / "pipelines/_templates/dbt/cookiecutter.json"
    context.write_text('{\n  "pipeline_name": "my_pipeline",\n  "owner": ""\n  "x": 1\n}\n')
    result = repo.invoke("create-pipeline", "doomed")
    assert result.returncode == 1
    assert result.stderr == (
        "✗ pipelines/_templates/dbt/cookiecutter.json:4: not valid JSON "
        "(Expecting ',' delimiter, column 3) — fix the file\n"
    )
    assert not (repo.root / "pipelines/doomed").exists()


def test_create_pipeline_warns_about_an_uncommitted_template(repo: TempProject) -> None:
    git(repo.root, "init", "-q")
    committed(repo, "template v1")
    (repo.root / TEMPLATE / "scripts/new.sh").write_text("#!/bin/sh\n")
    result = repo.invoke("create-pipeline", "fresh")
    assert result.returncode == 0
    assert result.stderr.startswith("! template dbt has uncommitted changes ("), result.stderr


def test_conflict_markers_in_pipeline_yaml_are_named_before_yaml_parses_them(
    repo: TempProject,
) -> None:
    assert repo.invoke("create-pipeline", "demo").returncode == 0
    manifest = repo.root / "pipelines/demo/pipeline.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            '  schedule: "@daily"\n',
            '<<<<<<< pipeline\n  schedule: "@hourly"\n=======\n  schedule: "@daily"\n'
            ">>>>>>> template (new)\n",
        )
    )
    line = manifest.read_text().splitlines().index("<<<<<<< pipeline") + 1
    result = repo.doit("list")
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"✗ pipelines/demo/pipeline.yaml:{line}: unresolved merge conflict marker — keep "
        "the lines you want, delete the <<<<<<< ======= >>>>>>> lines"
    )
