"""Write an equivalent `compose.yaml`, so the same platform runs with `docker compose`.

Values keep their `${VAR}` references (compose reads the same `.env`), so no secret is
written; images declared with `build:` point at their content-addressed tag.
"""

from __future__ import annotations

from typing import Any

import yaml

from dataplatform import labels
from dataplatform.images import fingerprint as fp
from dataplatform.project import Project
from dataplatform.services.desired import container_name, volume_labels
from dataplatform.services.durations import format_duration
from dataplatform.services.manifest import ServicesManifest


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def compose_document(project: Project, manifest: ServicesManifest) -> dict[str, Any]:
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    for name, service in manifest.services.items():
        entry: dict[str, Any] = {"container_name": container_name(manifest.namespace, name)}
        if service.build is not None:
            spec = service.build
            tag = fp.of_project(spec, project).tag
            entry["image"] = f"{spec.repository}:{tag}"
            build: dict[str, Any] = {
                "context": project.relative(spec.context),
                "dockerfile": str(spec.dockerfile.relative_to(spec.context))
                if spec.context in spec.dockerfile.parents
                else project.relative(spec.dockerfile),
            }
            if spec.target:
                build["target"] = spec.target
            if spec.args:
                build["args"] = dict(spec.args)
            entry["build"] = build
        else:
            entry["image"] = service.image
        if service.command is not None:
            entry["command"] = (
                list(service.command) if not isinstance(service.command, str) else service.command
            )
        if service.environment:
            entry["environment"] = dict(service.environment)
        if service.ports:
            entry["ports"] = list(service.ports)
        if service.volumes:
            mounts = []
            for volume in service.volumes:
                source, _, rest = volume.partition(":")
                if source.startswith((".", "/", "~")):
                    mounts.append(volume)
                elif source in manifest.volumes:  # top-level: shared, named once
                    volumes[source] = _top_level(manifest, source)
                    mounts.append(volume)
                else:  # the service's own: compose names it <project>_<service>_<volume>
                    key = f"{name}_{source}"
                    volumes[key] = {
                        "labels": volume_labels(
                            manifest.namespace, service.persistent, service=name
                        )
                    }
                    mounts.append(f"{key}:{rest}")
            entry["volumes"] = mounts
        if service.depends_on:
            entry["depends_on"] = {dep: {"condition": cond} for dep, cond in service.depends_on}
        if service.healthcheck is not None:
            check = service.healthcheck
            entry["healthcheck"] = {
                "test": list(check.test),
                "interval": _duration(check.interval),
                "timeout": _duration(check.timeout),
                "retries": check.retries,
                "start_period": _duration(check.start_period),
            }
        if service.profiles:
            entry["profiles"] = list(service.profiles)
        if service.stop_signal:
            entry["stop_signal"] = service.stop_signal
        if service.stop_grace_period is not None:
            entry["stop_grace_period"] = format_duration(service.stop_grace_period)
        entry["labels"] = {labels.PROJECT: manifest.namespace, labels.SERVICE: name}
        services[name] = entry
    document: dict[str, Any] = {"name": manifest.namespace, "services": services}
    if volumes:
        document["volumes"] = volumes
    return document


def _top_level(manifest: ServicesManifest, key: str) -> dict[str, Any]:
    """A top-level volume as compose declares it: an external one by its name alone (compose
    neither creates nor labels it), ours with its labels (and its `name:` if it has one)."""
    volume = manifest.volumes[key]
    entry: dict[str, Any] = (
        {"external": True}
        if volume.external
        else {"labels": volume_labels(manifest.namespace, volume.persistent, key=key)}
    )
    if volume.name:
        entry["name"] = volume.name
    return entry


def render(project: Project, manifest: ServicesManifest) -> str:
    header = (
        f"# generated from {manifest.declared_in or 'platform/services.yaml'} by "
        "`invoke compose` — edit that instead\n"
    )
    return header + yaml.safe_dump(compose_document(project, manifest), sort_keys=False, width=100)
