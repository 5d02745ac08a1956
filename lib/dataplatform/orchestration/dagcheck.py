"""Load DAG files or Dagster definitions the way the scheduler would, and report what it saw.

This file runs inside a managed Airflow or Dagster environment (`dataplatform.envs`), not in
the toolkit's own: it imports only the standard library and the engine. It reads a JSON request
on stdin and writes one JSON document on stdout:

    request  {"engine": "airflow"|"dagster", "files": [path, ...], "variables": {key: value}}
    result   {"engine_version": "...", "files": [{"file": path, "dags": [...],
              "import_error": str|null, "import_error_line": int|null, "safe_mode_skip": bool,
              "seconds": float}]}

Airflow: one DagBag per file (Airflow 2.10 `airflow.models.dagbag`, 3.3+
`airflow.dag_processing.dagbag`; `include_examples` only where it exists), safe mode on, with a
secrets backend that answers every connection with a stub and every variable with its declared
stub, so importing a DAG file never touches the network or a metadata database. Dagster: the
module's `Definitions` are loaded and resolved (assets, jobs, schedules).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import re
import sys
import time
import traceback

STUB_CONNECTION = "generic://stub:stub@stub.invalid:1/stub"

try:
    from airflow.secrets.base_secrets import BaseSecretsBackend as _Base
except Exception:  # a Dagster environment: the backend is never used
    _Base = object  # type: ignore[assignment,misc]


class StubSecrets(_Base):  # type: ignore[misc,valid-type]
    """Airflow secrets backend used while validating: no network, no database."""

    def get_conn_value(self, conn_id: str) -> str:
        return STUB_CONNECTION

    def get_conn_uri(self, conn_id: str) -> str:  # Airflow 2 name
        return STUB_CONNECTION

    def get_variable(self, key: str) -> str:
        import os

        declared = json.loads(os.environ.get("DATAPLATFORM_STUB_VARIABLES", "{}"))
        return declared.get(key, f"stub-{key}")


def _error_line(text: str, path: str) -> int | None:
    """The line of `path` in a traceback (the deepest frame in that file)."""
    found = None
    for match in re.finditer(r'File "([^"]+)", line (\d+)', text):
        if match.group(1) == path:
            found = int(match.group(2))
    if found is None:
        match = re.search(r"\(.*?, line (\d+)\)", text)  # SyntaxError's own position
        found = int(match.group(1)) if match else None
    return found


def _might_contain_dag(path: str) -> bool:
    """Airflow's safe-mode heuristic: a file is parsed only if it mentions both words."""
    with open(path, "rb") as handle:
        content = handle.read().lower()
    return b"airflow" in content and b"dag" in content


def _dagbag_class():
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.3+
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2.x – 3.2
    return DagBag


def _describe_dag(dag) -> dict:
    tasks = []
    for task in dag.tasks:
        tasks.append(
            {
                "task_id": task.task_id,
                "retries": int(getattr(task, "retries", 0) or 0),
                "owner": str(getattr(task, "owner", "") or ""),
                "upstream": sorted(task.upstream_task_ids),
            }
        )
    return {
        "dag_id": dag.dag_id,
        "tags": sorted(str(t) for t in (dag.tags or [])),
        "owner": str(getattr(dag, "owner", "") or ""),
        "tasks": tasks,
        "schedule": _schedule_text(dag),
    }


def _schedule_text(dag) -> str:
    """The schedule as Airflow shows it (2.x: timetable.summary; 3.x: its description)."""
    timetable = getattr(dag, "timetable", None)
    for source, name in (
        (dag, "timetable_summary"),
        (timetable, "summary"),
        (timetable, "description"),
        (timetable, "_expression"),
    ):
        value = getattr(source, name, None) if source is not None else None
        if isinstance(value, str) and value:
            return value
    return str(getattr(dag, "schedule", "") or "")


def check_airflow(files: list[str]) -> dict:
    import airflow

    DagBag = _dagbag_class()
    accepts_examples = "include_examples" in inspect.signature(DagBag.__init__).parameters
    results = []
    for path in files:
        started = time.perf_counter()
        entry = {
            "file": path,
            "dags": [],
            "import_error": None,
            "import_error_line": None,
            "safe_mode_skip": not _might_contain_dag(path),
        }
        kwargs = {"dag_folder": path, "safe_mode": True}
        if accepts_examples:
            kwargs["include_examples"] = False
        bag = DagBag(**kwargs)
        for failed, message in bag.import_errors.items():
            text = str(message)
            entry["import_error"] = _last_line(text)
            entry["import_error_line"] = _error_line(text, str(failed))
        entry["dags"] = [_describe_dag(dag) for dag in bag.dags.values()]
        entry["seconds"] = round(time.perf_counter() - started, 3)
        results.append(entry)
    return {"engine_version": airflow.__version__, "files": results}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "import failed"


def check_dagster(files: list[str]) -> dict:
    import dagster

    results = []
    for index, path in enumerate(files):
        started = time.perf_counter()
        entry = {
            "file": path,
            "dags": [],
            "import_error": None,
            "import_error_line": None,
            "safe_mode_skip": False,
        }
        try:
            spec = importlib.util.spec_from_file_location(f"_dataplatform_defs_{index}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found = [
                value for value in vars(module).values() if isinstance(value, dagster.Definitions)
            ]
            if not found:
                raise LookupError("defines no dagster.Definitions object at module level")
            entry["definitions"] = len(found)
            for definitions in found:
                repository = definitions.get_repository_def()  # resolves everything
                assets = sorted(
                    key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()
                )
                schedules = {s.job_name: s.cron_schedule for s in repository.schedule_defs}
                for job in repository.get_all_jobs():
                    if job.name.startswith("__"):  # Dagster's implicit asset job
                        continue
                    entry["dags"].append(
                        {
                            "dag_id": job.name,
                            "assets": assets,
                            "schedule": str(schedules.get(job.name) or ""),
                            "tags": sorted(job.tags),
                            "owner": str(job.tags.get("owner", "")),
                            "tasks": [],
                        }
                    )
        except Exception as exc:
            text = traceback.format_exc()
            entry["import_error"] = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            entry["import_error_line"] = _error_line(text, path)
        entry["seconds"] = round(time.perf_counter() - started, 3)
        results.append(entry)
    return {"engine_version": dagster.__version__, "files": results}


def _check(request: dict) -> dict:
    if request["engine"] == "airflow":
        return check_airflow(request["files"])
    return check_dagster(request["files"])


def _write(result: dict, output: str) -> None:
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


# What DAG files and definitions import: loaded once before any fork, so each request starts
# warm (importing these is nearly all of a cold parse's time).
PRELOAD = {
    "airflow": (
        "airflow.models.dag",
        "airflow.models.baseoperator",
        "airflow.operators.empty",
        "airflow.operators.python",
        "airflow.operators.bash",
        "airflow.providers.standard.operators.empty",
        "airflow.providers.standard.operators.python",
        "airflow.providers.standard.operators.bash",
        "cosmos",
        "cosmos.converter",
        "cosmos.airflow.task_group",
        "cosmos.operators.local",
        "cosmos.dbt.graph",
    ),
    "dagster": ("dagster", "dagster_dbt"),
}
WARM_UP_DAG = """from datetime import datetime
from airflow import DAG
with DAG("dataplatform_warm_up", start_date=datetime(2024, 1, 1), schedule=None):
    pass
"""


def _preload(engine: str) -> None:
    """Import the engine and its dbt integration once, before any fork, as Airflow's own DAG
    processor does; a module that is missing is reported by the file that needs it."""
    import importlib
    import os
    import tempfile

    for name in PRELOAD[engine]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    if engine == "airflow":
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "warm_up.py")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(WARM_UP_DAG)
            _dagbag_class()(dag_folder=path, safe_mode=True)


def serve(engine: str, reply_fd: int) -> int:
    """Answer requests (one JSON line each on stdin) until stdin closes. Each request runs in a
    forked child, so one pipeline's modules never leak into another's, and the parent writes
    `done` or `failed <status>` on `reply_fd` once the child's result file is complete."""
    import os

    _preload(engine)
    replies = os.fdopen(reply_fd, "w", buffering=1)
    learned = None
    for line in sys.stdin:
        if not line.strip():
            continue
        if learned:  # only once another request came: a lone request pays nothing for it
            _learn(learned)
        request = json.loads(line)
        learned = request["output"] + ".modules"
        child = os.fork()
        if child == 0:
            before = set(sys.modules)
            try:
                _write(_check(request), request["output"])
                code = 0
            except BaseException:
                traceback.print_exc()
                code = 1
            _write(_library_modules(set(sys.modules) - before), learned)
            os._exit(code)
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        replies.write("done\n" if code == 0 else f"failed {code}\n")
    return 0


def _library_modules(names: set[str]) -> list[str]:
    """Of the modules a request imported, those of installed libraries (never the pipeline's
    own files): what the next fork should find already loaded."""
    prefixes = tuple({sys.prefix, sys.base_prefix})
    found = []
    for name in sorted(names):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None) or ""
        if path.startswith(prefixes):
            found.append(name)
    return found


def _learn(path: str) -> None:
    """Import in the parent what the last child needed, so later children start warmer."""
    import importlib
    import os

    try:
        with open(path, encoding="utf-8") as handle:
            names = json.load(handle)
        os.unlink(path)
    except (OSError, ValueError):
        return
    for name in names:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        return serve(sys.argv[2], int(sys.argv[3]))
    request = json.load(sys.stdin)
    # DAG files and engines print (Airflow 3 logs to stdout): the result goes to its own file.
    _write(_check(request), request["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
