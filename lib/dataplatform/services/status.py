"""`invoke status` as data: one row per service declared in services.yaml or found on the
engine under the namespace's label — state (with the exit code of an exited container, and
whether that was success), health, ports, image, how long it has run or since it ended, and
drift from services.yaml. The CLI formats it (cli/platform.py)."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from dataplatform import labels
from dataplatform.services.found import Found
from dataplatform.services.spec import Service


@dataclass(frozen=True)
class Row:
    service: str
    state: str  # running, absent, created, exited, …
    outcome: str = ""  # for an exited container: "ok" (exit 0) or "failed"
    exit_code: int | None = None
    detail: str = ""  # "SIGKILL", "out of memory"
    health: str = ""
    ports: str = ""
    image: str = ""
    running_for: float | None = None  # seconds, when running
    ended_ago: float | None = None  # seconds, when exited
    drift: str = ""

    @property
    def shown_state(self) -> str:
        if self.exit_code is None:
            return self.state
        text = f"{self.state} ({self.exit_code}"
        text += f", {self.detail})" if self.detail else ")"
        return f"{text}: {self.outcome}"


def _when(text: str) -> datetime | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None


def _signal_of(code: int) -> str:
    if code > 128:
        try:
            return signal.Signals(code - 128).name
        except ValueError:
            return ""
    return ""


def row(
    service: str, container: Found | None, declared: bool, wanted_hash: str | None, now: datetime
) -> Row:
    if container is None:
        return Row(service, "absent", drift="" if declared else "not in services.yaml")
    state = container.state
    status = state.get("Status", "?")
    bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    ports = ", ".join(
        f"{b.get('HostIp') + ':' if b.get('HostIp') else ''}{b.get('HostPort')}→{port}"
        for port, found in sorted(bindings.items())
        for b in found or []
    )
    fields: dict = {
        "health": (state.get("Health") or {}).get("Status", ""),
        "ports": ports,
        "image": (container.attrs.get("Config") or {}).get("Image", ""),
    }
    if status == "running":
        started = _when(state.get("StartedAt", ""))
        if started:
            fields["running_for"] = max(0.0, (now - started).total_seconds())
    elif status in ("exited", "dead"):
        code = int(state.get("ExitCode") or 0)
        fields["exit_code"] = code
        fields["outcome"] = "ok" if code == 0 else "failed"
        fields["detail"] = "out of memory" if state.get("OOMKilled") else _signal_of(code)
        finished = _when(state.get("FinishedAt", ""))
        if finished:
            fields["ended_ago"] = max(0.0, (now - finished).total_seconds())
        fields["health"] = ""
    if not declared:
        fields["drift"] = "not in services.yaml"
    elif wanted_hash is not None:
        same = container.labels.get(labels.CONFIG_HASH) == wanted_hash
        fields["drift"] = "" if same else "changed"
    else:
        fields["drift"] = "unknown"
    return Row(service, status, **fields)


def rows(
    found: Mapping[str, Found], services: Mapping[str, Service] | None, hashes: Mapping[str, str]
) -> list[Row]:
    """`services` None: services.yaml is broken, so drift is unknown and only the engine's
    containers are listed."""
    now = datetime.now(tz=UTC)
    declared = set(services or {})
    names = sorted(set(found) | declared)
    result = []
    for name in names:
        result.append(
            row(name, found.get(name), services is None or name in declared, hashes.get(name), now)
        )
    return result
