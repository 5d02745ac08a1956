"""Validate one pipeline's orchestration files before anything reaches a scheduler: load them
in a real Airflow (DagBag) or Dagster inside the managed environment of the configured lock,
then hold what loaded against the team's policies. Each problem is one line naming the file
(and line, where there is one)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dataplatform import envs
from dataplatform.errors import UserError
from dataplatform.fsutil import write_atomic
from dataplatform.orchestration import layout
from dataplatform.orchestration.spec import Settings
from dataplatform.project import Project

VALIDATOR = "dataplatform.dagcheck/1"
TIMEOUT_SECONDS = 600
DEFAULT_OWNER = "airflow"  # what Airflow calls a task's owner when nobody named one


@dataclass
class Validation:
    engine: str
    engine_version: str = ""
    dags: list[dict] = field(default_factory=list)  # {"dag_id", "file"}
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        ids = ", ".join(d["dag_id"] for d in self.dags) or "none"
        return (
            f"{len(self.dags)} {'DAG' if self.engine == 'airflow' else 'definitions'}"
            f" valid on {self.engine} {self.engine_version} ({ids})"
        )


def checker_environment(project: Project, settings: Settings, home: Path) -> dict[str, str]:
    """The checker's environment: a throwaway engine home with a SQLite database nobody
    uses, stubbed connections and variables, no examples, quiet logs."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__SECRETS__BACKEND": "dagcheck.StubSecrets",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "DAGSTER_HOME": str(home / "dagster"),
            "DATAPLATFORM_ROOT": str(project.root),
            "DATAPLATFORM_STUB_VARIABLES": json.dumps(settings.stub_variables),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONPATH": str(layout.CHECKER.parent),
        }
    )
    for directory in ("airflow", "dags", "dagster"):
        (home / directory).mkdir(parents=True, exist_ok=True)
    return env


class Worker:
    """A warm checker process (`dagcheck.py --serve`) in one engine environment: it imports the
    engine once and forks per request, so validating fifty pipelines pays Airflow's import
    once per doit process, not fifty times."""

    def __init__(self, python: Path, engine: str, env: dict[str, str], home: Path):
        self.home = home
        self.log = home / "checker.log"
        read_end, write_end = os.pipe()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(python), str(layout.CHECKER), "--serve", engine, str(write_end)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=env,
                cwd=home,
                pass_fds=(write_end,),
                text=True,
            )
        os.close(write_end)
        self.replies = os.fdopen(read_end, "r")

    def ask(self, engine: str, files: list[Path]) -> dict:
        output = self.home / f"result-{uuid.uuid4().hex}.json"
        request = {"engine": engine, "files": [str(f) for f in files], "output": str(output)}
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise UserError(f"the {engine} checker stopped: {self._last_line()}") from None
        ready, _, _ = select.select([self.replies], [], [], TIMEOUT_SECONDS)
        if not ready:
            self.close()
            raise UserError(
                f"loading the {engine} files took over {TIMEOUT_SECONDS} s — "
                "something in them runs at import time"
            )
        reply = self.replies.readline().strip()
        if reply != "done" or not output.exists():
            raise UserError(f"the {engine} checker failed: {self._last_line()}")
        try:
            return json.loads(output.read_text())
        finally:
            output.unlink(missing_ok=True)

    def _last_line(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else f"exit {self.process.poll()}"

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # type: ignore[union-attr]
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.replies.close()
        shutil.rmtree(self.home, ignore_errors=True)


class _Pool:
    """Idle workers per environment, shared by the validate tasks of one doit process (at most
    one busy worker per thread under `doit -P thread`), closed when the process exits."""

    def __init__(self) -> None:
        self._idle: dict[tuple, list[Worker]] = {}
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        atexit.register(self.close)

    @contextlib.contextmanager
    def worker(self, project: Project, settings: Settings, engine: str, python: Path):
        key = (str(python), engine, str(project.root), json.dumps(settings.stub_variables))
        with self._lock:
            idle = self._idle.setdefault(key, [])
            worker = idle.pop() if idle else None
        if worker is None or worker.process.poll() is not None:
            home = Path(tempfile.mkdtemp(prefix="dagcheck-"))
            worker = Worker(python, engine, checker_environment(project, settings, home), home)
            with self._lock:
                self._all.append(worker)
        try:
            yield worker
        finally:
            with self._lock:
                self._idle[key].append(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], {}
        for worker in workers:
            worker.close()


POOL = _Pool()


def load(
    project: Project,
    settings: Settings,
    engine: str,
    files: list[Path],
    log: Callable[[str], None] = lambda line: None,
) -> dict:
    """What the engine saw in `files`: the checker's JSON result."""
    python = envs.ensure(project, engine, settings.locks[engine], log)
    with POOL.worker(project, settings, engine, python) as worker:
        return worker.ask(engine, files)


def validate(
    project: Project,
    settings: Settings,
    engine: str,
    files: list[Path],
    generated_from: dict[Path, str],
    log: Callable[[str], None] = lambda line: None,
) -> Validation:
    """Load `files` (DAG files or Dagster modules) and check them. `generated_from` maps a
    generated file to where its settings come from, so a policy problem names that place."""
    result = Validation(engine)
    if not files:
        return result
    seen = load(project, settings, engine, files, log)
    result.engine_version = seen.get("engine_version", "")
    first_file: dict[str, str] = {}
    for entry in seen["files"]:
        path = Path(entry["file"])
        shown = project.relative(path)
        if entry["import_error"]:
            line = entry.get("import_error_line")
            result.problems.append(
                f"{shown}{f':{line}' if line else ''}: import error: {entry['import_error']}"
            )
            continue
        if not entry["dags"] and not entry.get("definitions"):
            if entry["safe_mode_skip"]:
                result.problems.append(
                    f"{shown}: Airflow would skip this file: it never mentions both 'airflow' "
                    "and 'dag' (DagBag safe mode) — import DAG from airflow in it, or name it "
                    f"_{path.name} if it is a helper module"
                )
            else:
                result.problems.append(
                    f"{shown}: defines no "
                    f"{'DAG' if engine == 'airflow' else 'Definitions'} — "
                    f"add one, or name it _{path.name} if it is a helper"
                )
            continue
        where = generated_from.get(path, shown)
        for dag in entry["dags"]:
            dag_id = dag["dag_id"]
            if dag_id in first_file:
                result.problems.append(
                    f"{shown}: dag_id {dag_id!r} is also defined in "
                    f"{first_file[dag_id]} — give one of them another id"
                )
                continue
            first_file[dag_id] = shown
            result.dags.append({"dag_id": dag_id, "file": shown})
            if engine == "airflow":
                result.problems += policy_problems(settings, where, dag)
    return result


def policy_problems(settings: Settings, where: str, dag: dict) -> list[str]:
    """The team's policies (orchestration.yaml `policies:`) held against one loaded DAG."""
    policies, problems = settings.policies, []
    rule = f"({settings.file} policies."
    name = f"{where}: DAG {dag['dag_id']!r}"
    if policies.require_tags and not dag["tags"]:
        problems.append(f"{name} has no tags {rule}require_tags) — add tags")
    if policies.require_owner:
        ownerless = [t["task_id"] for t in dag["tasks"] if t["owner"] in ("", DEFAULT_OWNER)]
        if ownerless:
            problems.append(
                f"{name} has no owner for {_some(ownerless)} {rule}require_owner) — set owner"
            )
    low = [t["task_id"] for t in dag["tasks"] if t["retries"] < policies.min_retries]
    if low:
        problems.append(
            f"{name}: {_some(low)} retries fewer than {policies.min_retries} "
            f"{rule}min_retries) — set retries to {policies.min_retries} or more"
        )
    return problems


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"task{'s' if len(names) > 1 else ''} {shown}{more}"


def write_result(path: Path, result: Validation) -> None:
    """What assembling needs (no timings: an unchanged result keeps the same bytes)."""
    text = (
        json.dumps(
            {
                "validator": VALIDATOR,
                "engine": result.engine,
                "engine_version": result.engine_version,
                "dags": result.dags,
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    write_atomic(path, text)


def read_result(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
