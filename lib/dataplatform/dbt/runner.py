"""Run `dbt build` for one pipeline on the embedded DuckDB warehouse (or PostgreSQL).

A profile is generated under the pipeline's git-ignored `build/` folder, so a fresh clone needs
no `~/.dbt/profiles.yml`. dbt's own log stays in `build/logs/`; a person sees one summary line,
or, when something fails, one line per failing model or test with dbt's message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from dataplatform.dbt import layout
from dataplatform.errors import UserError

TARGETS = ("duckdb", "postgres")
TARGET_ENV = "DATAPLATFORM_DBT_TARGET"
_SUMMARY = re.compile(r"Done\. PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+(?: NO-OP=\d+)? TOTAL=\d+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class BuildResult:
    summary: str


def target() -> str:
    chosen = os.environ.get(TARGET_ENV, "duckdb")
    if chosen not in TARGETS:
        raise UserError(f"{TARGET_ENV}={chosen!r} is not a dbt target here — use one of "
                        f"{', '.join(TARGETS)}")
    return chosen


def profile_name(pipeline_dir: Path) -> str:
    project_file = layout.dbt_dir(pipeline_dir) / layout.PROJECT_FILE
    shown = f"pipelines/{pipeline_dir.name}/dbt/{layout.PROJECT_FILE}"
    if not project_file.is_file():
        raise UserError(f"pipelines/{pipeline_dir.name}/dbt has no {layout.PROJECT_FILE} — add "
                        "one (see pipelines/_templates/dbt) or remove the dbt folder")
    try:
        data = yaml.safe_load(project_file.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise UserError(f"{where}: invalid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("profile"), str):
        raise UserError(f"{shown}: profile: must name the project's profile (usually the "
                        "pipeline's name)")
    return data["profile"]


def write_profiles(pipeline_dir: Path) -> Path:
    """profiles.yml with a `duckdb` target (default) and a `postgres` one; returns its folder."""
    name = profile_name(pipeline_dir)
    schema = pipeline_dir.name
    profiles = {
        name: {
            "target": "duckdb",
            "outputs": {
                "duckdb": {"type": "duckdb", "path": str(layout.warehouse(pipeline_dir)),
                           "threads": 4},
                "postgres": {
                    "type": "postgres",
                    "host": "{{ env_var('POSTGRES_HOST', 'localhost') }}",
                    "port": "{{ env_var('POSTGRES_PORT', '5432') | as_number }}",
                    "user": "{{ env_var('POSTGRES_USER', 'postgres') }}",
                    "password": "{{ env_var('POSTGRES_PASSWORD', '') }}",
                    "dbname": "{{ env_var('POSTGRES_DB', 'warehouse') }}",
                    "schema": schema,
                    "threads": 4,
                },
            },
        }
    }
    directory = layout.build_dir(pipeline_dir)
    directory.mkdir(parents=True, exist_ok=True)
    text = (f"# generated for pipelines/{pipeline_dir.name} by dataplatform; not to be edited\n"
            + yaml.safe_dump(profiles, sort_keys=False))
    path = directory / "profiles.yml"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return directory


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    raise UserError("dbt is not installed in this environment — pip install -e '.[dbt]'")


def failures(target_dir: Path) -> list[str]:
    """`kind name: message` for every failing node of the last run."""
    try:
        results = json.loads((target_dir / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    lines = []
    for result in results:
        if result.get("status") in ("error", "fail", "runtime error"):
            parts = result.get("unique_id", "?").split(".")
            kind, name = parts[0], ".".join(parts[2:]) or parts[-1]
            if kind == "test" and len(parts) > 3 and re.fullmatch(r"[0-9a-f]{10}", parts[-1]):
                name = ".".join(parts[2:-1])  # drop dbt's hash suffix
            message = " ".join((result.get("message") or "").split())
            lines.append(f"{kind} {name}: {message}")
    return lines


def build(pipeline_dir: Path, extra_args: tuple[str, ...] = ()) -> BuildResult:
    """`dbt build` of one pipeline; raises a UserError naming what failed."""
    chosen = target()
    profiles_dir = write_profiles(pipeline_dir)
    target_dir = profiles_dir / "target"
    command = [dbt_executable(), "build", "--project-dir", str(layout.dbt_dir(pipeline_dir)),
               "--profiles-dir", str(profiles_dir), "--target-path", str(target_dir),
               "--log-path", str(profiles_dir / "logs"), "--target", chosen, "--no-use-colors",
               *extra_args]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    (target_dir / "run_results.json").unlink(missing_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env,
                          cwd=layout.dbt_dir(pipeline_dir))
    output = _ANSI.sub("", done.stdout + done.stderr)
    summary = _SUMMARY.search(output)
    if done.returncode == 0:
        warehouse = layout.warehouse(pipeline_dir)
        if chosen == "duckdb" and not warehouse.exists():
            import duckdb  # a project with nothing to build yet still gets its warehouse

            duckdb.connect(str(warehouse)).close()
        return BuildResult(summary.group(0) if summary else "nothing to build yet")
    details = failures(target_dir)
    if not details:  # failed before running anything: show dbt's own error lines
        details = [line.strip() for line in output.splitlines()
                   if "Error" in line or "error" in line][-6:] or output.strip().splitlines()[-6:]
    head = f"dbt build failed ({summary.group(0) if summary else 'exit ' + str(done.returncode)})"
    raise UserError("\n".join([head, *(f"    {line}" for line in details)]))
