"""What `dodo.py` delegates to: the doit configuration and the task creators.

The tasks are created once per doit process, for every creator at once, and kept in the
project's load cache (`build.load_cache`): when nothing the last load read has changed, they
are rebuilt from it without opening an input file or importing the YAML, Jinja or catalog
modules. User mistakes found while loading (a bad `services.yaml` or `pipeline.yaml`) stop doit
before any task runs, with the reporter's one `✗ file:line: … — fix` line and exit code 3; a
workflow command loading the tasks in its own process (`graph.load`) gets the `UserError`.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit import get_var
from doit.exceptions import TaskFailed

from dataplatform import settings
from dataplatform.build import jobs, load_cache, stamps
from dataplatform.build.actions import Action
from dataplatform.build.reporter import Reporter, stop_loading
from dataplatform.build.runstate import RUN
from dataplatform.errors import UserError
from dataplatform.project import Project

MIN_DOIT = "0.36.0"
# the task creators, in the order dodo.py yields their tasks
GROUPS = ("image", "cdc", "warehouse", "dbt", "dbt_manifest", "orchestration")


def doit_config() -> dict[str, Any]:
    if jobs.launched_as_doit(sys.argv[0]):  # not a host process running doit in-process
        jobs.follow_command_line(sys.argv[1:])
    return {
        # Pinned explicitly: doit's default "dbm" picks whatever dbm module the platform has,
        # so the same checkout would behave differently across machines.
        "backend": "sqlite3",
        # doit's md5 checker, remembering a touched file's new stamp (build.stamps)
        "check_file_uptodate": stamps.MD5Checker,
        # image builds overlap by default; every other action still runs alone (build.jobs)
        **jobs.doit_defaults(),
        "dep_file": ".doit.db",
        "minversion": MIN_DOIT,
        "reporter": Reporter,
        "verbosity": 2,
    }


class Deferred(Action):
    """The action (or clean action) of a task rebuilt from the load cache that is not plain
    data: when doit runs it, the tasks are created for real (once per process) and the action
    the task creator makes for this task now is run (through the same error edge)."""

    def __init__(self, loader: Loader, task: str, field: str, index: int):
        super().__init__(self._run)
        self.loader, self.task, self.field, self.index = loader, task, field, index

    def _run(self) -> Any:
        entries = (self.loader.real_task(self.task) or {}).get(self.field) or []
        if self.index >= len(entries):
            return TaskFailed(f"{self.task}: its inputs changed while doit ran — run doit again")
        entry = entries[self.index]
        if isinstance(entry, tuple):  # doit's (callable, args[, kwargs])
            fn, args, *kwargs = entry
            return fn(*args, **(kwargs[0] if kwargs else {}))
        return entry()

    def __repr__(self) -> str:
        return f"deferred({self.task} {self.field}[{self.index}])"


class Loader:
    """Creates the tasks once per doit process (from the load cache when it is fresh) and
    configures the run state."""

    def __init__(self, root: Path):
        self.project = Project(root.resolve())
        self._tasks: dict[str, list[dict[str, Any]]] | None = None
        self._services: dict[str, dict[str, Any]] = {}
        self._real: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self.from_cache = False
        # a UserError while loading: shown and doit stopped (doit's process), or raised (a
        # workflow command that loads the tasks itself and renders errors on its own edge)
        self.raise_user_errors = False

    @property
    def dodo_file(self) -> Path:
        return self.project.root / "dodo.py"

    def tasks(self) -> dict[str, list[dict[str, Any]]]:
        """Every creator's task dicts, by creator (GROUPS)."""
        if self._tasks is None:
            try:
                tasks = self._from_cache() or self._load_and_keep()
            except UserError as exc:
                if self.raise_user_errors:
                    raise
                stop_loading(exc)
            _sign_checks(tasks)
            _uncaptured(tasks)
            self._tasks = tasks
        return self._tasks

    def services(self) -> dict[str, dict[str, Any]]:
        """Each service's image (None: it builds none) and service template file (None: none),
        for the workflow commands."""
        self.tasks()
        return self._services

    def real_task(self, name: str) -> dict[str, Any] | None:
        """The task dict named `name` as the creators make it now (no cache)."""
        with self._lock:
            if self._real is None:
                created, _ = self._create()
                self._real = {
                    load_cache.task_name(t): t for group in created.values() for t in group
                }
            return self._real.get(name)

    def _configure(self, namespace: str, registry: str | None, strict: bool) -> None:
        override = get_var("strict", None)
        RUN.configure(
            self.project,
            namespace,
            registry,
            settings.is_true(override) if override is not None else strict,
        )

    def _from_cache(self) -> dict[str, list[dict[str, Any]]] | None:
        data = load_cache.read(self.project.load_cache_file)
        if data is None:
            return None
        try:
            tasks = {
                group: load_cache.decode_tasks(data["groups"][group], self._deferred)
                for group in GROUPS
            }
            services, run = data["services"], data["run"]
        except (KeyError, TypeError, ValueError, ImportError, AttributeError):
            return None  # kept by another version of a task creator: load for real
        self._configure(run["namespace"], run["registry"], run["strict"])
        self._services = services
        self.from_cache = True
        return tasks

    def _deferred(self, task: str, field: str, index: int) -> Deferred:
        return Deferred(self, task, field, index)

    def _load_and_keep(self) -> dict[str, list[dict[str, Any]]]:
        recorder = load_cache.Recorder(
            ignored=(str(self.project.state_dir),), root=self.project.root
        )
        with recorder:
            tasks, data = self._create()
        try:
            data["groups"] = {g: load_cache.encode_tasks(tasks[g]) for g in GROUPS}
        except load_cache.Unsupported:
            return tasks  # not plain data: loaded for real every time
        load_cache.write(self.project.load_cache_file, self.dodo_file, recorder, data)
        return tasks

    def _create(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
        """The task dicts of every creator, and the plain data the rest of a run needs."""
        from dataplatform.build import (
            cdc_tasks,
            dbt_tasks,
            image_tasks,
            orchestration_tasks,
            warehouse_tasks,
        )
        from dataplatform.catalog import load_catalog

        root = self.project.root
        catalog = load_catalog(self.project)
        run = {
            "namespace": catalog.namespace,
            "registry": settings.registry(root),
            "strict": settings.strict(root, None),
        }
        self._configure(run["namespace"], run["registry"], run["strict"])
        target = settings.dbt_target(root)
        tasks = {
            "image": list(image_tasks.image_tasks(catalog)),
            "cdc": list(cdc_tasks.cdc_tasks(catalog)),
            "warehouse": list(warehouse_tasks.warehouse_tasks(catalog)),
            "dbt": list(dbt_tasks.dbt_tasks(catalog, target)),
            "dbt_manifest": list(dbt_tasks.manifest_tasks(catalog)),
            "orchestration": list(orchestration_tasks.orchestration_tasks(catalog)),
        }
        self._services = services_of(catalog)
        return tasks, {"run": run, "services": self._services}

    def image_tasks(self) -> Iterator[dict[str, Any]]:
        yield from self.tasks()["image"]

    def cdc_tasks(self) -> Iterator[dict[str, Any]]:
        yield from self.tasks()["cdc"]

    def warehouse_tasks(self) -> Iterator[dict[str, Any]]:
        yield from self.tasks()["warehouse"]

    def dbt_manifest_tasks(self) -> Iterator[dict[str, Any]]:
        yield from self.tasks()["dbt_manifest"]

    def orchestration_tasks(self) -> Iterator[dict[str, Any]]:
        yield from self.tasks()["orchestration"]

    def dbt_tasks(self) -> Iterator[dict[str, Any]]:
        yield from self.tasks()["dbt"]


_SIGNATURES: dict[type, inspect.Signature] = {}


def _sign_checks(tasks: dict[str, list[dict[str, Any]]]) -> None:
    """doit asks `inspect.signature` of every uptodate check of every task on every run (to
    pass `task`, `values`): for an object with `__call__` that is ~0.2 ms each, a quarter of a
    no-op at 300 pipelines. Each check class's signature is computed once and given to its
    objects as `__signature__`, which `inspect.signature` returns as it is."""
    for group in tasks.values():
        for task in group:
            for check in task.get("uptodate", ()):
                if not hasattr(check, "__dict__") or "__signature__" in vars(check):
                    continue
                cls = type(check)
                if cls not in _SIGNATURES:
                    _SIGNATURES[cls] = inspect.signature(check)
                check.__signature__ = _SIGNATURES[cls]


def _uncaptured(tasks: dict[str, list[dict[str, Any]]]) -> None:
    """doit swaps `sys.stdout`/`sys.stderr` for a capturing writer around each action unless the
    task says `io: {capture: False}`; with actions in threads (build.jobs) those swaps interleave
    and leave a capturing writer behind. Without capture, doit still assigns the streams it was
    given, which are the process's own. Task output goes to the real stdout (build.console), so
    nothing is captured: doit's `--failure-verbosity` and a `-r json` report hold no task
    output."""
    for group in tasks.values():
        for task in group:
            task.setdefault("io", {"capture": False})


def services_of(catalog: Any) -> dict[str, dict[str, Any]]:
    from dataplatform.services.manifest import TEMPLATES

    found = {}
    for name, service in sorted(catalog.services.services.items()):
        template = (service.template or "").partition(":")[0]
        found[name] = {
            "image": service.build.name if service.build else None,
            "template": (TEMPLATES / f"{template}.yaml.j2").as_posix() if template else None,
        }
    return found
