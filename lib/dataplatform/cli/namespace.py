"""The invoke namespace `tasks.py` exposes: one collection per area of the toolkit."""

from __future__ import annotations

from invoke import Collection

from dataplatform.cli import (
    cache,
    cdc,
    db,
    kerberos,
    pipelines,
    platform,
    workflow,
    workstation,
)


def build_namespace() -> Collection:
    root = Collection()
    root.add_task(workstation.setup)
    root.add_task(workstation.doctor)
    root.add_task(pipelines.create_pipeline)
    for command in (
        platform.up,
        platform.down,
        platform.status,
        platform.logs,
        platform.restart,
        platform.compose_file,
    ):
        root.add_task(command)
    for command in (
        workflow.affected,
        workflow.why,
        workflow.graph,
        workflow.plan,
        workflow.watch,
        workflow.validate,
    ):
        root.add_task(command)
    root.add_collection(Collection("cache", cache.status, cache.clean))
    root.add_collection(Collection("pipelines", pipelines.outdated, pipelines.update))
    root.add_collection(Collection("db", db.plan_command, db.deploy_command))
    root.add_collection(Collection("cdc", cdc.lint_command))
    root.add_collection(Collection("kerberos", kerberos.test_login))
    return root
