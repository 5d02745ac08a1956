"""Which of the engine's volumes are this namespace's, which of them `down` removes, and which
of those `up` needs are not its to use (checked before anything starts).

A volume is ours when it carries `labels.PROJECT=<namespace>`. `down` keeps the persistent
ones unless asked (`--volumes --yes`). Persistence is what services.yaml declares now — the
top-level volume's `persistent`, or the owning service's for a service's own volume — so a
volume made before `persistent: true` was added is kept too; only for a volume services.yaml
no longer declares (or when the file does not load) does the label it was created with decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dataplatform import labels


def is_persistent(
    volume_labels: Mapping[str, str],
    declared: Mapping[str, Any] | None,
    services: Mapping[str, Any] | None,
) -> bool:
    """`declared`: the manifest's top-level volumes by key; `services`: its services (each
    with `.persistent`); None for either when services.yaml does not load."""
    key = volume_labels.get(labels.VOLUME)
    if key is not None and declared is not None and key in declared:
        return bool(declared[key].persistent)
    owner = volume_labels.get(labels.SERVICE)
    if key is None and owner is not None and services is not None and owner in services:
        return bool(services[owner].persistent)
    return volume_labels.get(labels.PERSISTENT) == "true"


def ours(listed: Iterable[Mapping[str, Any]], namespace: str) -> list[Mapping[str, Any]]:
    """The entries of an engine volume list (`GET /volumes` → `Volumes`) labelled ours."""
    return [v for v in listed if (v.get("Labels") or {}).get(labels.PROJECT) == namespace]


def to_remove(
    listed: Iterable[Mapping[str, Any]],
    namespace: str,
    everything: bool,
    declared: Mapping[str, Any] | None = None,
    services: Mapping[str, Any] | None = None,
) -> list[str]:
    """Names of the volumes `down` removes: all of ours with `everything`, else those that
    are not persistent."""
    return [
        v["Name"]
        for v in ours(listed, namespace)
        if everything or not is_persistent(v.get("Labels") or {}, declared, services)
    ]


def problems(
    managed: Mapping[str, tuple[str, str]],
    external: Mapping[str, str],
    found: Mapping[str, Mapping[str, Any] | None],
    namespace: str,
    declared_in: str,
) -> list[str]:
    """What stops `up` from using its volumes, one line each. `managed`: volume name → (the
    service mounting it, its key in services.yaml), for the volumes `up` would create;
    `external`: name → where it is declared `external: true`; `found`: the engine's
    inspection of each (None: missing).
    A managed volume that already exists without this namespace's label holds someone
    else's data: `up` would mount it silently, so it refuses and says how to proceed."""
    lines = []
    for name, (service, key) in managed.items():
        attrs = found.get(name)
        if attrs is None:
            continue
        owner = (attrs.get("Labels") or {}).get(labels.PROJECT)
        if owner == namespace:
            continue
        whose = f"made for namespace {owner}" if owner else "not made by invoke up"
        lines.append(
            f"volume {name} for service {service} already exists and is {whose} — "
            f"remove it (docker volume rm {name}) if its data is not needed, or "
            f"use it as it is: declare `{key}: {{external: true, name: {name}}}` "
            f"under the top-level volumes: of {declared_in}"
        )
    for name, where in external.items():
        if found.get(name) is None:
            lines.append(
                f"volume {name} is declared external: true ({where}) but the engine "
                f"has no such volume — create it (docker volume create {name}), or "
                "remove external: true so up creates it"
            )
    return lines
