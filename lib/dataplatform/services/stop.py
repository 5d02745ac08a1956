"""Stopping the platform's containers (`down`, `restart`): in reverse dependency order, every
container whose dependents are gone at once, each with its service's stop signal and grace
period (compose's `stop_signal`, `stop_grace_period`), then SIGKILL.

The engine's own `stop` waits for one container per call, and API 1.41 cannot be told which
signal to send; so the signals are sent here and one loop watches every stopping container
with a single listing per poll, killing each whose grace period is over; signals and removals
go out side by side (a few threads), and a removal never delays the next level. What to stop,
in which order and how, comes from services.yaml when it loads and from the containers' labels
otherwise (`labels.DEPENDS_ON`, `labels.STOP_GRACE`, the container's own StopSignal).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from dataplatform import labels
from dataplatform.images import engine
from dataplatform.services.durations import (
    DEFAULT_STOP_GRACE_S,
    DEFAULT_STOP_SIGNAL,
    format_duration,
)
from dataplatform.services.found import Found
from dataplatform.services.graph import start_order
from dataplatform.services.spec import Service

Report = Callable[[str, str, str], None]  # service, state, detail
POLL_S = (0.02, 0.1)  # adaptive: from 20 ms, doubling while nothing changes, at most 100 ms
WORKERS = 8  # signals and removals side by side (below the docker SDK's 10 pooled connections)


@dataclass(frozen=True)
class StopTarget:
    service: str
    container_id: str
    running: bool
    signal: str
    grace: float  # seconds between the signal and SIGKILL
    dependencies: tuple[str, ...]

    @property
    def how(self) -> str:
        return f"{self.signal}, SIGKILL after {format_duration(self.grace)}"


def targets(found: Mapping[str, Found], services: Mapping[str, Service] | None
            ) -> dict[str, StopTarget]:
    """How to stop each found container: services.yaml's settings where the service is
    declared there, else what the container carries."""
    result = {}
    for name, container in found.items():
        declared = (services or {}).get(name)
        config = container.attrs.get("Config") or {}
        carried = container.labels
        signal = (declared.stop_signal if declared else None) or config.get("StopSignal") \
            or DEFAULT_STOP_SIGNAL
        if declared is not None:
            grace = declared.stop_grace_period
            dependencies = tuple(declared.dependencies)
        else:
            grace = _float(carried.get(labels.STOP_GRACE))
            dependencies = tuple(d for d in carried.get(labels.DEPENDS_ON, "").split(",") if d)
        result[name] = StopTarget(name, container.id, container.running, signal,
                                  DEFAULT_STOP_GRACE_S if grace is None else grace,
                                  dependencies)
    return result


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def stop(stopping: Mapping[str, StopTarget], remove: bool, report: Report) -> list[str]:
    """Stop (and with `remove`, remove) every target: each gets its signal once every service
    depending on it has exited, so a whole level is signalled at once; removals run beside
    the stops and never hold up the next level. Returns the services in the order they
    were done."""
    api = engine.client().api
    dependents = {name: {n for n, t in stopping.items() if name in t.dependencies}
                  for name in stopping}
    waiting = dict(stopping)
    signalled: dict[str, float] = {}  # service → when SIGKILL is due
    killed: set[str] = set()
    exited: set[str] = set()
    removing: dict[str, Future] = {}
    done: list[str] = []
    pause = POLL_S[0]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while waiting or signalled or removing:
            changed = False
            blocked = {n for n in waiting if dependents[n] - exited}
            if blocked == set(waiting) and not signalled:
                blocked = set()  # a cycle (labels of containers from different configurations)
            level = [waiting.pop(name) for name in sorted(set(waiting) - blocked)]
            sent = list(pool.map(lambda t: t.running and _signal(api, t.container_id, t.signal),
                                 level))  # side by side: each is a round trip to the engine
            for target, delivered in zip(level, sent, strict=True):
                if delivered:
                    signalled[target.service] = time.monotonic() + target.grace
                    report(target.service, "stopping", f"sent {target.how}")
                else:
                    signalled[target.service] = 0.0  # not running: nothing to wait for
                changed = True
            if signalled:
                running = _running(api, {stopping[n].container_id for n in signalled})
                now = time.monotonic()
                for name in sorted(signalled):
                    target = stopping[name]
                    if target.container_id in running:
                        if now >= signalled[name] and name not in killed:
                            _signal(api, target.container_id, "SIGKILL")
                            killed.add(name)
                            report(name, "stopping", f"killed: still running after "
                                   f"{format_duration(target.grace)} ({target.signal} ignored)")
                        continue
                    del signalled[name]
                    exited.add(name)
                    changed = True
                    if remove:
                        removing[name] = pool.submit(_remove, api, target.container_id)
                        report(name, "removing", "exited" + (" after SIGKILL"
                                                             if name in killed else ""))
                    else:
                        done.append(name)
                        report(name, "stopped", "after SIGKILL" if name in killed else "")
            for name in [n for n, future in removing.items() if future.done()]:
                removing.pop(name).result()  # an engine error surfaces here
                done.append(name)
                changed = True
                report(name, "removed", "after SIGKILL" if name in killed else "")
            if waiting or signalled or removing:
                pause = POLL_S[0] if changed else min(pause * 2, POLL_S[1])
                time.sleep(pause)
    return done


def _signal(api, container_id: str, signal: str) -> bool:
    """Send `signal`; False when the container is not running (nothing to signal)."""
    import docker.errors

    try:
        api.kill(container_id, signal=signal)
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.response is not None and exc.response.status_code == 409:  # not running
            return False
        raise


def _running(api, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    listed = api.containers(all=True, filters={"id": sorted(wanted)}) if wanted else []
    return {c["Id"] for c in listed
            if c["Id"] in wanted and c.get("State") in ("running", "restarting", "paused",
                                                        "removing")}


def _remove(api, container_id: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        api.remove_container(container_id, force=True)


def down(namespace: str, services: Mapping[str, Service] | None, volumes: bool,
         report: Report, declared_volumes: Mapping[str, object] | None = None) -> list[str]:
    """Stop and remove every container of `namespace`, then its network and its volumes but
    the persistent ones (all of them with `volumes`). `services` None: services.yaml is
    broken, so the containers' labels decide."""
    from dataplatform.services import found
    from dataplatform.services import volumes as volumes_mod

    api = engine.client().api
    removed = stop(targets(found.containers(namespace), services), remove=True, report=report)
    ours = {"label": f"{labels.PROJECT}={namespace}"}
    for network in api.networks(filters=ours):
        api.remove_network(network["Id"])
    listed = api.volumes(filters=ours).get("Volumes") or []
    for name in volumes_mod.to_remove(listed, namespace, volumes, declared_volumes, services):
        api.remove_volume(name)
    return removed


def restart_levels(services: Mapping[str, Service] | None, name: str,
                   running: Iterable[str]) -> list[list[str]]:
    """`[[name], [its dependents], …]`: `name`, then every running service that declares
    `depends_on: {X: {restart: true}}` on it or on one of those, transitively (compose's
    `restart`). A dependent comes one level after the last of its dependencies that
    restarts, so each level starts once everything it depends on is ready again."""
    declared = services or {}
    running = set(running)
    chosen = {name}
    grew = True
    while grew:
        grew = False
        for service in declared.values():
            if service.name not in chosen and service.name in running \
                    and chosen & set(service.restart_deps):
                chosen.add(service.name)
                grew = True
    edges = {n: [d for d in declared[n].dependencies if d in chosen and d != name]
             if n in declared and n != name else [] for n in chosen}
    depth: dict[str, int] = {}
    for node in start_order(edges):
        depth[node] = 0 if node == name else 1 + max((depth[d] for d in edges[node]),
                                                     default=0)
    levels: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node in sorted(depth):
        levels[depth[node]].append(node)
    return levels


def restart(found: Mapping[str, Found], services: Mapping[str, Service] | None, name: str,
            timeout: float, report: Report) -> list[str]:
    """Restart `name` as `down` would stop it (without removing it), start it, and wait until
    it is ready (healthy when it has a health check, running — or exited 0, for a job —
    otherwise); then, level by level, the running dependents that declare
    `depends_on: {name: {restart: true}}` (services.yaml decides), each level health-gated
    like `up`. Returns those dependents, in the order they were restarted."""
    running = {n for n, c in found.items() if c.running}
    levels = restart_levels(services, name, running)
    later = [n for level in levels[1:] for n in level]
    for dependent in later:
        declared = (services or {}).get(dependent)
        why = [d for d in (declared.restart_deps if declared else ()) if d in found]
        report(dependent, "waiting", f"restarts once {', '.join(why) or name} is ready "
               "(depends_on restart: true)")
    for level in levels:
        chosen = {n: found[n] for n in level}
        stop(targets(chosen, services), remove=False, report=report)
        api = engine.client().api
        for service, container in chosen.items():
            api.start(container.id)
            report(service, "starting", "")
        _wait_ready(api, {n: c.id for n, c in chosen.items()}, timeout, report)
    return later


def _wait_ready(api, ids: Mapping[str, str], timeout: float, report: Report) -> None:
    """Poll (short adaptive waits) until every container in `ids` is ready; the first that
    fails, or is not ready in `timeout` seconds, is an UpFailed with its last log lines."""
    from dataplatform.services.execute import UpFailed

    deadline = time.monotonic() + timeout
    pending = dict(ids)
    pause = POLL_S[0]
    while pending:
        for name, container_id in list(pending.items()):
            attrs = engine.get_json(f"/containers/{container_id}/json", missing_ok=True)
            state, detail = readiness(attrs) if attrs is not None else \
                ("failed", "its container disappeared")
            report(name, state, detail)
            if state == "ready":
                del pending[name]
            elif state == "failed" or time.monotonic() > deadline:
                if state != "failed":
                    detail = f"not ready after {timeout:g}s ({detail})"
                log = "" if attrs is None else \
                    api.logs(container_id, tail=20).decode(errors="replace")
                raise UpFailed(name, detail, log)
        if pending:
            time.sleep(pause)
            pause = min(pause * 2, POLL_S[1])


def readiness(attrs: dict) -> tuple[str, str]:
    """(ready | waiting | failed, what it is waiting for) from a container's inspect."""
    state = attrs.get("State") or {}
    status = state.get("Status")
    check = (attrs.get("Config") or {}).get("Healthcheck") or {}
    test = [part for part in check.get("Test") or [] if part not in ("CMD", "CMD-SHELL")]
    if status == "exited":
        code = state.get("ExitCode")
        if code == 0 and not test:
            return "ready", "completed"
        return "failed", f"exited with code {code}"
    if status != "running":
        return "waiting", status or "?"
    health = state.get("Health")
    if not test or not health:
        return "ready", "running"
    shown = f"`{' '.join(test)}`"
    if health.get("Status") == "healthy":
        return "ready", "healthy"
    if health.get("Status") == "unhealthy":
        last = (health.get("Log") or [{}])[-1]
        output = " ".join((last.get("Output") or "").split())[:300]
        return "failed", (f"unhealthy: health check {shown} failed "
                          f"(exit {last.get('ExitCode')}): {output or 'no output'}")
    interval = (check.get("Interval") or 30_000_000_000) / 1e9
    return "waiting", f"health check {shown} (every {format_duration(interval)})"
