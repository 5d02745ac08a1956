#!/usr/bin/env python3
"""Generate a synthetic monorepo of N pipelines, for benchmarks and tests at scale.

The checkout gets this repository's dodo.py, tasks.py, templates/ and pipeline templates, and:
- platform/services.yaml: `--images` services built from platform/images/img<i>/ (every
  image also run by a second service), plus a templated postgres;
- platform/cdc/source-groups.yaml: `--groups` db-per-tenant groups of `--tenants` tenants;
- pipelines/shared/macros/: shared macros every dbt project uses;
- pipelines/pNNN/: a dbt project (dbt_project.yml, staging and mart models calling a shared
  macro); every `--cdc-every`-th pipeline replicates `--tables` tables of group g<i % groups>
  (config/cdc.yaml); every `--image-every`-th pipeline declares its own image (image/).

    python tools/testing/synthetic_repo.py /tmp/mono --pipelines 300 --git

Importable: `generate(root, Shape(pipelines=20))`, `git_commit(root, "message")`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TYPES = ["int", "bigint", "nvarchar(200)", "decimal(18,2)", "datetime2(3)", "bit", "date"]


@dataclass(frozen=True)
class Shape:
    pipelines: int = 300
    cdc_every: int = 4
    groups: int = 3
    tenants: int = 3
    tables: int = 5
    images: int = 3
    image_every: int = 25
    namespace: str = "dpsynthetic"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def pipeline_name(index: int) -> str:
    return f"p{index:03d}"


def cdc_group(shape: Shape, index: int) -> str | None:
    """The source group pipeline `index` replicates (None: no CDC)."""
    return f"g{index % shape.groups}" if index % shape.cdc_every == 0 else None


def has_image(shape: Shape, index: int) -> bool:
    return index % shape.image_every == 1


def _services(shape: Shape) -> str:
    lines = [
        f"namespace: {shape.namespace}",
        "services:",
        "  postgres:",
        '    template: "postgres:16"',
    ]
    for i in range(shape.images):
        lines += [
            f"  svc{i}:",
            "    build:",
            f"      context: images/img{i}",
            f"      name: img{i}",
            '    command: ["true"]',
            f"  svc{i}-worker:",
            "    build:",
            f"      context: images/img{i}",
            f"      name: img{i}",
            '    command: ["true"]',
        ]
    return "\n".join(lines) + "\n"


def _groups(shape: Shape) -> str:
    lines = ["groups:"]
    for g in range(shape.groups):
        lines += [
            f"  g{g}:",
            "    pattern: db-per-tenant",
            "    servers:",
            "      main:",
            f"        host: ${{G{g}_HOST:-mssql-g{g}}}",
            "        port: 1433",
            f"        user: ${{G{g}_USER}}",
            f"        password: ${{G{g}_PASSWORD}}",
            "    tenants:",
        ]
        lines += [f"      t{t}: {{database: G{g}_T{t}, env: prod}}" for t in range(shape.tenants)]
    return "\n".join(lines) + "\n"


def _cdc(shape: Shape, name: str, group: str) -> str:
    lines = [f"source_group: {group}", f"target_schema: {name}_raw", "tables:"]
    for t in range(shape.tables):
        lines += [f"  dbo.Table{t:02d}:", "    primary_key: Id", "    columns:", "      Id: bigint"]
        lines += [f"      Col{c}: {TYPES[(t + c) % len(TYPES)]}" for c in range(4)]
    return "\n".join(lines) + "\n"


def _dbt_project(name: str) -> str:
    return (
        f'name: {name}\nversion: "1.0.0"\nconfig-version: 2\nprofile: {name}\n'
        'model-paths: ["models"]\n'
        'macro-paths: ["macros", "{{ env_var(\'DATAPLATFORM_SHARED_MACROS\', '
        "'../../shared/macros') }}\"]\n"
    )


def _pipeline(root: Path, shape: Shape, index: int) -> None:
    name = pipeline_name(index)
    directory = root / "pipelines" / name
    manifest = [f"name: {name}", f"description: synthetic pipeline {index}", "owner: bench"]
    if has_image(shape, index):
        manifest += ["images:", "  worker:", "    context: image"]
        _write(directory / "image/Dockerfile", "FROM busybox:1.36\nCOPY job.sh /job.sh\n")
        _write(directory / "image/job.sh", f"echo {name}\n")
    _write(directory / "pipeline.yaml", "\n".join(manifest) + "\n")
    _write(directory / "dbt/dbt_project.yml", _dbt_project(name))
    _write(
        directory / "dbt/models/staging/stg_orders.sql",
        "select 1 as order_id, 10.0 as amount, 100.0 as total\n",
    )
    _write(
        directory / "dbt/models/marts/orders.sql",
        "select order_id, {{ percent_of('amount', 'total') }} as share\n"
        "from {{ ref('stg_orders') }}\n",
    )
    group = cdc_group(shape, index)
    if group is not None:
        _write(directory / "config/cdc.yaml", _cdc(shape, name, group))


def generate(root: Path, shape: Shape = Shape()) -> list[str]:
    """Write the synthetic checkout into `root` (created; must be empty or absent)."""
    root.mkdir(parents=True, exist_ok=True)
    for part in ("dodo.py", "tasks.py"):
        shutil.copy(REPO / part, root / part)
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("templates", "pipelines/_templates"):
        shutil.copytree(REPO / part, root / part, ignore=ignore)
    _write(root / ".gitignore", ".doit.db*\n**/generated/\n**/build/\n.dataplatform/\n.env\n")
    _write(root / "platform/services.yaml", _services(shape))
    for i in range(shape.images):
        _write(
            root / f"platform/images/img{i}/Dockerfile",
            "FROM busybox:1.36\nCOPY entry.sh /entry.sh\n",
        )
        _write(root / f"platform/images/img{i}/entry.sh", f"echo img{i}\n")
    _write(root / "platform/cdc/source-groups.yaml", _groups(shape))
    _write(
        root / "pipelines/shared/macros/percent_of.sql",
        "{% macro percent_of(part, whole) %}100.0 * {{ part }} / nullif({{ whole }}, 0)"
        "{% endmacro %}\n",
    )
    _write(
        root / "pipelines/shared/macros/cents.sql",
        "{% macro cents(x) %}({{ x }} * 100)::bigint{% endmacro %}\n",
    )
    names = []
    for index in range(shape.pipelines):
        _pipeline(root, shape, index)
        names.append(pipeline_name(index))
    return names


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def git_init(root: Path, branch: str = "main") -> None:
    git(root, "init", "-q", "-b", branch)
    git(root, "config", "user.email", "bench@example.invalid")
    git(root, "config", "user.name", "bench")
    git(root, "config", "commit.gpgsign", "false")


def git_commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path)
    parser.add_argument("--pipelines", type=int, default=Shape.pipelines)
    parser.add_argument("--cdc-every", type=int, default=Shape.cdc_every)
    parser.add_argument("--groups", type=int, default=Shape.groups)
    parser.add_argument("--tenants", type=int, default=Shape.tenants)
    parser.add_argument("--tables", type=int, default=Shape.tables)
    parser.add_argument("--images", type=int, default=Shape.images)
    parser.add_argument("--git", action="store_true", help="git init and commit it")
    args = parser.parse_args()
    if args.destination.exists() and any(args.destination.iterdir()):
        sys.exit(f"{args.destination} is not empty")
    shape = Shape(
        args.pipelines, args.cdc_every, args.groups, args.tenants, args.tables, args.images
    )
    names = generate(args.destination, shape)
    if args.git:
        git_init(args.destination)
        git_commit(args.destination, "synthetic monorepo")
    print(f"{len(names)} pipelines in {args.destination}")


if __name__ == "__main__":
    main()
