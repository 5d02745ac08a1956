"""Golden output: what the CDC generator (Redpanda Connect configs, dbt staging) and the
warehouse generator (the replicas' DDL) write for the fixed pipelines under
`tests/golden/cdc/input/`, compared byte for byte with `tests/golden/cdc/output/`.

A generator version (`GENERATOR` in `dataplatform.cdc.layout` and in
`dataplatform.warehouse.layout`) decides whether existing generated folders are rewritten: a
change in output without a bump leaves every checkout with stale files. So when the output
differs and the version recorded in `tests/golden/cdc/generators.json` is still the current one,
the test says "bump GENERATOR". After bumping (or for a new input), refresh the golden and
review its diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_cdc_golden.py

which rewrites `tests/golden/cdc/output/` and `generators.json` from the current code.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from dataplatform.cdc import dbt_staging, generate, types
from dataplatform.cdc import layout as cdc_layout
from dataplatform.project import Project
from dataplatform.warehouse import layout as warehouse_layout
from support import REPO
from support.cdc import render_warehouse

GOLDEN = Path(__file__).resolve().parent / "golden" / "cdc"
PIPELINES = ("golden_tenant", "golden_shared")
VERSIONS = GOLDEN / "generators.json"
REFRESH = "UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_cdc_golden.py"
# Each output folder and the generator version that must change when its files change.
GENERATORS = {
    "cdc": ("GENERATOR in lib/dataplatform/cdc/layout.py", cdc_layout.GENERATOR),
    "dbt": ("GENERATOR in lib/dataplatform/cdc/layout.py", cdc_layout.GENERATOR),
    "warehouse": ("GENERATOR in lib/dataplatform/warehouse/layout.py", warehouse_layout.GENERATOR),
}


def checkout(root: Path) -> Path:
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(GOLDEN / "input", root, dirs_exist_ok=True)
    return root


def render_all(root: Path) -> dict[str, str]:
    """Every generated file, as `<pipeline>/<cdc|dbt|warehouse>/<path>`."""
    project = Project(root)
    files: dict[str, str] = {}
    for name in PIPELINES:
        directory = root / "pipelines" / name
        pipeline = generate.load(project, generate.find_source(directory, True))
        inputs = [f"pipelines/{name}/pipeline.yaml", str(cdc_layout.SOURCE_GROUPS)]
        header = f"generated from {' and '.join(inputs)} — edit those instead"
        for folder, rendered in (
            ("cdc", generate.render(project, pipeline, inputs)),
            ("dbt", dbt_staging.render(pipeline, header)),
            ("warehouse", render_warehouse(name, root)),
        ):
            files.update({f"{name}/{folder}/{path}": text for path, text in rendered.items()})
    return files


def _stored_as(path: str) -> str:
    """A generated `.gitignore` is stored under another name: git would obey it."""
    return path.replace(".gitignore", "gitignore.golden")


def stored() -> dict[str, str]:
    output = GOLDEN / "output"
    return {
        p.relative_to(output).as_posix().replace("gitignore.golden", ".gitignore"): p.read_text(
            encoding="utf-8"
        )
        for p in sorted(output.rglob("*"))
        if p.is_file()
    }


def current_versions() -> dict[str, str]:
    return {folder: version for folder, (_, version) in GENERATORS.items()}


def refresh(files: dict[str, str]) -> None:
    output = GOLDEN / "output"
    shutil.rmtree(output, ignore_errors=True)
    for path, text in files.items():
        (output / _stored_as(path)).parent.mkdir(parents=True, exist_ok=True)
        (output / _stored_as(path)).write_text(text, encoding="utf-8")
    VERSIONS.write_text(json.dumps(current_versions(), indent=2) + "\n", encoding="utf-8")


def unbumped_changes(
    files: dict[str, str], golden: dict[str, str], recorded: dict[str, str]
) -> list[str]:
    """A problem per output folder whose files changed while its generator version did not."""
    problems = []
    for folder, (where, version) in GENERATORS.items():
        paths = sorted(p for p in {*files, *golden} if p.split("/")[1] == folder)
        changed = [p for p in paths if files.get(p) != golden.get(p)]
        if changed and recorded.get(folder) == version:
            diff = "".join(
                difflib.unified_diff(
                    golden.get(changed[0], "").splitlines(True),
                    files.get(changed[0], "").splitlines(True),
                    f"golden/{changed[0]}",
                    f"generated/{changed[0]}",
                )
            )
            problems.append(
                f"the {folder} output changed ({', '.join(changed)}) but {where} "
                f"is still {version!r}: bump GENERATOR so existing generated "
                f"folders are rewritten, then refresh the golden: {REFRESH}\n"
                f"{diff}"
            )
    return problems


def test_generated_output_matches_the_golden_or_the_generator_was_bumped(tmp_path: Path) -> None:
    """Also the refresh (UPDATE_GOLDEN=1): it refuses to record changed output under an
    unchanged generator version."""
    files = render_all(checkout(tmp_path))
    golden, recorded = stored(), json.loads(VERSIONS.read_text(encoding="utf-8"))
    problems = unbumped_changes(files, golden, recorded)
    assert not problems, "\n".join(problems)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        refresh(files)
        golden, recorded = stored(), json.loads(VERSIONS.read_text(encoding="utf-8"))
    stale = sorted(
        {
            f"{where} is now {version!r}, the golden was made at "
            f"{recorded.get(folder)!r}: refresh it ({REFRESH}) and review its diff"
            for folder, (where, version) in GENERATORS.items()
            if recorded.get(folder) != version
        }
    )
    assert not stale, "\n".join(stale)
    assert files == golden  # the same files, version for version


def test_the_golden_pipeline_covers_every_type() -> None:
    """Adding a type to `dataplatform.cdc.types` needs a column of it in the golden input."""
    manifest = yaml.safe_load(
        (GOLDEN / "input/pipelines/golden_tenant/pipeline.yaml").read_text(encoding="utf-8")
    )
    declared = set()
    for table in manifest["cdc"]["tables"].values():
        for body in table["columns"].values():
            text = body["type"] if isinstance(body, dict) else body
            declared.add(types.parse(text.removesuffix(" not null")).name)
    missing = sorted(r.name for r in types.RECORDS if r.name not in declared)
    assert not missing, (
        f"add a column of each of {missing} to "
        "tests/golden/cdc/input/pipelines/golden_tenant/pipeline.yaml, then "
        f"{REFRESH}"
    )


@pytest.mark.parametrize("folder", sorted(GENERATORS))
def test_the_golden_has_output_of_every_generator(folder: str) -> None:
    assert any(path.split("/")[1] == folder for path in stored())
