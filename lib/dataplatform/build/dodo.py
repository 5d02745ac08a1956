"""What `dodo.py` delegates to: the doit configuration and the task creators.

User mistakes found while loading (a bad `services.yaml` or `pipeline.yaml`) stop doit before
any task runs, with one `ERROR:` line and exit code 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit import get_var
from doit.exceptions import InvalidDodoFile

from dataplatform import settings
from dataplatform.build import (
    cdc_tasks,
    dbt_tasks,
    image_tasks,
    orchestration_tasks,
    warehouse_tasks,
)
from dataplatform.build.reporter import Reporter
from dataplatform.build.runstate import RUN
from dataplatform.catalog import Catalog, load_catalog
from dataplatform.errors import UserError
from dataplatform.project import Project

MIN_DOIT = "0.36.0"


def doit_config() -> dict[str, Any]:
    return {
        # Pinned explicitly: doit's default "dbm" picks whatever dbm module the platform has,
        # so the same checkout would behave differently across machines.
        "backend": "sqlite3",
        "dep_file": ".doit.db",
        "minversion": MIN_DOIT,
        "reporter": Reporter,
        "verbosity": 2,
    }


class Loader:
    """Loads the catalog once per doit process and configures the run state from it."""

    def __init__(self, root: Path):
        self.project = Project(root.resolve())
        self._catalog: Catalog | None = None

    def catalog(self) -> Catalog:
        if self._catalog is None:
            try:
                catalog = load_catalog(self.project)
                RUN.configure(
                    self.project,
                    catalog.namespace,
                    settings.registry(self.project.root),
                    settings.strict(self.project.root, get_var("strict", None)),
                )
            except UserError as exc:
                raise InvalidDodoFile(str(exc)) from None
            self._catalog = catalog
        return self._catalog

    def image_tasks(self) -> Iterator[dict[str, Any]]:
        yield from image_tasks.image_tasks(self.catalog())

    def cdc_tasks(self) -> Iterator[dict[str, Any]]:
        yield from cdc_tasks.cdc_tasks(self.catalog())

    def warehouse_tasks(self) -> Iterator[dict[str, Any]]:
        yield from warehouse_tasks.warehouse_tasks(self.catalog())

    def dbt_manifest_tasks(self) -> Iterator[dict[str, Any]]:
        yield from dbt_tasks.manifest_tasks(self.catalog())

    def orchestration_tasks(self) -> Iterator[dict[str, Any]]:
        yield from orchestration_tasks.orchestration_tasks(self.catalog())

    def dbt_tasks(self) -> Iterator[dict[str, Any]]:
        from dataplatform.dbt.runner import target

        catalog = self.catalog()
        try:
            chosen = target(self.project.root)
        except UserError as exc:
            raise InvalidDodoFile(str(exc)) from None
        yield from dbt_tasks.dbt_tasks(catalog, chosen)
