"""One read of the engine for `up`: every container (ours, and the others that may hold one of
our names or host ports), turned into plain frozen data the planner reads.

One list call: no per-container inspect. `from_listings` also takes an image list, for callers
that have one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dataplatform import labels

_EXITED = re.compile(r"^Exited \((-?\d+)\)")
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


@dataclass(frozen=True)
class ObservedContainer:
    id: str
    name: str
    namespace: str | None  # its project label, None when it is not this toolkit's
    service: str | None
    state: str  # created | running | restarting | paused | exited | dead
    health: str | None = None  # healthy | unhealthy | starting | None (no health check)
    exit_code: int | None = None  # when exited
    config_hash: str | None = None
    image_id: str = ""
    host_ports: tuple[int, ...] = ()  # host ports it publishes while running

    def describe(self) -> str:
        owner = f"namespace {self.namespace}" if self.namespace else "not made by invoke up"
        return f"container {self.name} ({self.id[:12]}, {owner})"


@dataclass(frozen=True)
class Observed:
    """What `up` knows about the engine before it plans."""

    namespace: str
    ours: Mapping[str, ObservedContainer] = field(default_factory=dict)  # by service
    others: Mapping[str, ObservedContainer] = field(default_factory=dict)  # by container name
    images: Mapping[str, str] = field(default_factory=dict)  # repo:tag → image ID
    fingerprints: Mapping[str, str] = field(default_factory=dict)  # repo:tag → fingerprint

    def port_holder(self, port: int) -> ObservedContainer | None:
        for container in (*self.ours.values(), *self.others.values()):
            if port in container.host_ports:
                return container
        return None


def container_from_summary(summary: Mapping[str, Any]) -> ObservedContainer:
    """An entry of the engine's container list (`GET /containers/json`)."""
    found = summary.get("Labels") or {}
    status = summary.get("Status") or ""
    state = summary.get("State") or ""
    exited = _EXITED.match(status)
    health_match = _HEALTH.search(status)
    health = (
        (summary.get("Health") or {}).get("Status")
        if isinstance(summary.get("Health"), dict)
        else None
    )
    if not health and health_match:
        health = health_match.group(1).removeprefix("health: ")
    name = ((summary.get("Names") or ["/"])[0]).lstrip("/")
    published = tuple(
        sorted({int(p["PublicPort"]) for p in summary.get("Ports") or [] if p.get("PublicPort")})
    )
    return ObservedContainer(
        id=summary.get("Id", ""),
        name=name,
        namespace=found.get(labels.PROJECT),
        service=found.get(labels.SERVICE),
        state=state,
        health=health if state == "running" else None,
        exit_code=int(exited.group(1)) if exited else None,
        config_hash=found.get(labels.CONFIG_HASH),
        image_id=summary.get("ImageID", ""),
        host_ports=published,
    )


def from_listings(
    namespace: str, containers: list[Mapping[str, Any]], images: list[Mapping[str, Any]]
) -> Observed:
    ours: dict[str, ObservedContainer] = {}
    others: dict[str, ObservedContainer] = {}
    for summary in containers:
        container = container_from_summary(summary)
        if container.namespace == namespace:
            ours[container.service or container.name] = container
        else:
            others[container.name] = container
    tags: dict[str, str] = {}
    prints: dict[str, str] = {}
    for image in images:
        digest = (image.get("Labels") or {}).get(labels.FINGERPRINT)
        for tag in image.get("RepoTags") or []:
            tags[tag] = image.get("Id", "")
            if digest:
                prints[tag] = digest
    return Observed(namespace, ours, others, tags, prints)


def observe(namespace: str) -> Observed:
    """The one engine list `up` plans from: every container, by plain HTTP on a local socket
    (images/engine.py `get_json`), so a no-op `up` never loads the docker SDK. Images are not
    listed (that costs 100+ ms on an engine with hundreds): `up` inspects the few references
    it needs."""
    from dataplatform.images import engine

    return from_listings(namespace, engine.get_json("/containers/json", {"all": 1}), [])


def containers_of(namespace: str) -> dict[str, ObservedContainer]:
    """Our containers only (one filtered list call): what the executor polls while waiting."""
    from dataplatform.images import engine

    listed = engine.get_json(
        "/containers/json", {"all": 1, "filters": {"label": [f"{labels.PROJECT}={namespace}"]}}
    )
    return {c.service or c.name: c for c in map(container_from_summary, listed)}


def image_key(reference: str) -> str:
    """`busybox` → `busybox:latest`: how the engine lists a reference without a tag."""
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last or "@" in reference else f"{reference}:latest"
