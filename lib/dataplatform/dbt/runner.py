"""Run `dbt build` for one pipeline on the embedded DuckDB warehouse (or PostgreSQL).

A profile is generated under the pipeline's git-ignored `build/` folder, so a fresh clone needs
no `~/.dbt/profiles.yml`. dbt's own log stays in `build/logs/`; a person sees one summary line,
or, when something fails, one line per failing model or test with dbt's message.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from dataplatform import settings
from dataplatform.dbt import diagnostics, layout
from dataplatform.errors import UserError
from dataplatform.fsutil import write_atomic
from dataplatform.project import find_project
from dataplatform.scaffold import conflicts

TARGETS = settings.DBT_TARGETS
TARGET_ENV = settings.DBT_TARGET
_SUMMARY = re.compile(r"Done\. PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+(?: NO-OP=\d+)? TOTAL=\d+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOG_FILE = "dbt.log"  # dbt's own full log, in the --log-path folder


@dataclass(frozen=True)
class BuildResult:
    summary: str


def target(project_root: Path | None = None) -> str:
    """The dbt target of every build (the environment, then the checkout's `.env`)."""
    return settings.dbt_target(project_root)


def _project_root(pipeline_dir: Path) -> Path | None:
    try:
        return find_project(pipeline_dir).root
    except UserError:
        return None


def _shown_root(pipeline_dir: Path) -> Path:
    """What paths in messages are relative to: the checkout (else the pipelines' parent)."""
    return _project_root(pipeline_dir) or pipeline_dir.resolve().parent.parent


def profile_name(pipeline_dir: Path) -> str:
    project_file = layout.dbt_dir(pipeline_dir) / layout.PROJECT_FILE
    shown = f"pipelines/{pipeline_dir.name}/dbt/{layout.PROJECT_FILE}"
    if not project_file.is_file():
        raise UserError(
            f"pipelines/{pipeline_dir.name}/dbt has no {layout.PROJECT_FILE} — add "
            "one (see pipelines/_templates/dbt) or remove the dbt folder"
        )
    try:
        data = yaml.safe_load(project_file.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise UserError(f"{where}: invalid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("profile"), str):
        raise UserError(
            f"{shown}: profile: must name the project's profile (usually the pipeline's name)"
        )
    return data["profile"]


def profiles_text(pipeline_dir: Path, duckdb_path: str) -> str:
    """profiles.yml of a pipeline: a `duckdb` target (default) at `duckdb_path` and a
    `postgres` one whose connection comes from POSTGRES_* variables (never a literal secret)."""
    name = profile_name(pipeline_dir)
    profiles = {
        name: {
            "target": "duckdb",
            "outputs": {
                "duckdb": {"type": "duckdb", "path": duckdb_path, "threads": 4},
                "postgres": {
                    "type": "postgres",
                    "host": "{{ env_var('POSTGRES_HOST', 'localhost') }}",
                    "port": "{{ env_var('POSTGRES_PORT', '5432') | as_number }}",
                    "user": "{{ env_var('POSTGRES_USER', 'postgres') }}",
                    "password": "{{ env_var('POSTGRES_PASSWORD') }}",  # no default for a secret
                    "dbname": "{{ env_var('POSTGRES_DB', 'warehouse') }}",
                    "schema": pipeline_dir.name,
                    "threads": 4,
                },
            },
        }
    }
    return (
        f"# generated for pipelines/{pipeline_dir.name} by dataplatform; not to be edited\n"
        + yaml.safe_dump(profiles, sort_keys=False)
    )


def write_profiles(pipeline_dir: Path) -> Path:
    """The build's profiles.yml, on the pipeline's own DuckDB file; returns its folder."""
    text = profiles_text(pipeline_dir, str(layout.warehouse(pipeline_dir)))
    directory = layout.build_dir(pipeline_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "profiles.yml"
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)  # a parse and a build of one pipeline may run side by side
    return directory


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    raise UserError("dbt is not installed in this environment — pip install -e '.[dbt]'")


def failures(target_dir: Path, pipeline_dir: Path, root: Path) -> list[str]:
    """`kind name: message` for every failing node of the last run; a compilation error also
    names the file (and line) it points at."""
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
            raw = result.get("message") or ""
            where = (
                diagnostics.locate(raw, pipeline_dir, root)
                if raw.startswith("Compilation Error")
                else None
            )
            message = " ".join(raw.split())
            lines.append(
                f"{kind} {name}: {where}: {message}" if where else f"{kind} {name}: {message}"
            )
    return lines


def _run_dbt(
    pipeline_dir: Path,
    verb: str,
    chosen: str,
    target_dir: Path,
    log_dir: Path,
    extra_args: tuple[str, ...] = (),
) -> tuple[subprocess.CompletedProcess, str]:
    root = _shown_root(pipeline_dir)  # conflict markers would reach dbt as a parse error
    conflicts.refuse(layout.project_input_files(pipeline_dir, root), root, "run doit again")
    profiles_dir = write_profiles(pipeline_dir)
    command = [
        dbt_executable(),
        verb,
        "--project-dir",
        str(layout.dbt_dir(pipeline_dir)),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(log_dir),
        "--target",
        chosen,
        "--no-use-colors",
        *extra_args,
    ]
    # dbt's env_var() in the generated profile reads the checkout's .env under the environment
    env = {
        **settings.environment(_project_root(pipeline_dir)),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=layout.dbt_dir(pipeline_dir)
    )
    return done, _ANSI.sub("", done.stdout + done.stderr)


# Manifest fields that change on every parse without the project changing.
_VOLATILE_METADATA = (
    "generated_at",
    "invocation_id",
    "invocation_started_at",
    "run_started_at",
    "env",
    "user_id",
    "send_anonymous_usage_stats",
)


def normalized_manifest(raw: dict, pipeline_dir: Path) -> dict:
    """`raw` without run-specific metadata and with machine paths made relative, so the same
    project gives the same bytes on every machine and every run (what is downstream of the
    manifest then re-runs only when the project really changed)."""
    metadata = raw.get("metadata", {})
    for key in _VOLATILE_METADATA:
        metadata.pop(key, None)
    absolute = str(layout.dbt_dir(pipeline_dir).resolve())
    for section in (
        "nodes",
        "sources",
        "macros",
        "exposures",
        "metrics",
        "semantic_models",
        "saved_queries",
        "unit_tests",
        "seeds",
        "snapshots",
        "analyses",
    ):
        for node in (raw.get(section) or {}).values():
            if not isinstance(node, dict):
                continue
            node.pop("created_at", None)  # when dbt parsed it, not what it is
            if node.get("root_path") == absolute:
                node["root_path"] = "."
    return raw


def parse(pipeline_dir: Path) -> bool:
    """`dbt parse` of one pipeline into `layout.manifest()`; True when its content changed.
    The manifest is the dbt project as orchestration sees it: DAGs read it, never dbt."""
    target_dir = layout.build_dir(pipeline_dir) / "parse"
    done, output = _run_dbt(pipeline_dir, "parse", "duckdb", target_dir, target_dir / "logs")
    if done.returncode != 0:
        raise UserError(
            diagnostics.report(
                "dbt parse failed",
                output,
                pipeline_dir,
                _shown_root(pipeline_dir),
                target_dir / "logs" / LOG_FILE,
            )
        )
    raw = json.loads((target_dir / "manifest.json").read_text())
    text = json.dumps(normalized_manifest(raw, pipeline_dir), sort_keys=True, indent=1) + "\n"
    destination = layout.manifest(pipeline_dir)
    try:
        if destination.read_text() == text:
            return False
    except OSError:
        pass
    write_atomic(destination, text)
    return True


def build(pipeline_dir: Path, extra_args: tuple[str, ...] = ()) -> BuildResult:
    """`dbt build` of one pipeline; raises a UserError naming what failed."""
    chosen = target(_project_root(pipeline_dir))
    target_dir = layout.build_dir(pipeline_dir) / "target"
    (target_dir / "run_results.json").unlink(missing_ok=True)
    done, output = _run_dbt(
        pipeline_dir,
        "build",
        chosen,
        target_dir,
        layout.build_dir(pipeline_dir) / "logs",
        extra_args,
    )
    summary = _SUMMARY.search(output)
    if done.returncode == 0:
        warehouse = layout.warehouse(pipeline_dir)
        if chosen == "duckdb" and not warehouse.exists():
            import duckdb  # a project with nothing to build yet still gets its warehouse

            duckdb.connect(str(warehouse)).close()
        return BuildResult(summary.group(0) if summary else "nothing to build yet")
    root = _shown_root(pipeline_dir)
    head = f"dbt build failed ({summary.group(0) if summary else 'exit ' + str(done.returncode)})"
    raise UserError(
        diagnostics.report(  # no failing node: dbt stopped before running any
            head,
            output,
            pipeline_dir,
            root,
            layout.build_dir(pipeline_dir) / "logs" / LOG_FILE,
            failures(target_dir, pipeline_dir, root),
        )
    )
