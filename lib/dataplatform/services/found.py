"""What `down`, `status`, `logs` and `restart` read from the engine: the namespace's containers,
inspected, keyed by service. Only labels decide what is ours, so these commands also work when
services.yaml does not load (services/recovery.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dataplatform import labels
from dataplatform.images import engine


@dataclass(frozen=True)
class Found:
    """One container of the namespace, as the engine's inspect shows it."""

    service: str
    attrs: dict[str, Any]

    @property
    def id(self) -> str:
        return self.attrs["Id"]

    @property
    def name(self) -> str:
        return self.attrs.get("Name", "").lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return self.attrs.get("Config", {}).get("Labels") or {}

    @property
    def state(self) -> dict[str, Any]:
        return self.attrs.get("State") or {}

    @property
    def status(self) -> str:
        return self.state.get("Status", "?")

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting", "paused")


def containers(namespace: str) -> dict[str, Found]:
    """service → its container, for every container labelled with `namespace`: one listing,
    then the inspections side by side (plain HTTP on a local engine: no docker SDK)."""
    listed = engine.get_json(
        "/containers/json", {"all": "1", "filters": {"label": [f"{labels.PROJECT}={namespace}"]}}
    )
    if not listed:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(listed))) as pool:
        inspected = list(
            pool.map(
                lambda summary: engine.get_json(
                    f"/containers/{summary['Id']}/json", missing_ok=True
                ),
                listed,
            )
        )
    found = {}
    for attrs in inspected:
        if attrs is None:  # removed between the listing and its inspection
            continue
        name = attrs.get("Name", "").lstrip("/")
        service = (attrs.get("Config", {}).get("Labels") or {}).get(labels.SERVICE) or name
        if service in found:  # a second container of one service: keep both in sight
            service = name
        found[service] = Found(service, attrs)
    return found
