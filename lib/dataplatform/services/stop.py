"""Stopping the platform's containers (`down`, `restart`): in reverse dependency order, every
container whose dependents are gone at once, each with its service's stop signal and grace
period (compose's `stop_signal`, `stop_grace_period`), then SIGKILL.

The engine's own `stop` waits for one container per call, and API 1.41 cannot be told which
signal to send; so the signals are sent here, and each stopping container has the engine's
`wait` (until not running) pending in a thread of its own, which reports its exit the moment
it happens — nothing polls, and the next level is signalled at once. Signals, waits and
removals are plain HTTP on a local engine (images/engine.py `call`: no docker SDK); a removal
never delays the next level. What to stop, in which order and how, comes from services.yaml
when it loads and from the containers' labels otherwise (`labels.DEPENDS_ON`,
`labels.STOP_GRACE`, the container's own StopSignal).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dataplatform import labels
from dataplatform.errors import UserError
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
POLL_S = (0.02, 0.1)  # readiness after a restart: from 20 ms, doubling, at most 100 ms


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


def targets(
    found: Mapping[str, Found], services: Mapping[str, Service] | None
) -> dict[str, StopTarget]:
    """How to stop each found container: services.yaml's settings where the service is
    declared there, else what the container carries."""
    result = {}
    for name, container in found.items():
        declared = (services or {}).get(name)
        config = container.attrs.get("Config") or {}
        carried = container.labels
        signal = (
            (declared.stop_signal if declared else None)
            or config.get("StopSignal")
            or DEFAULT_STOP_SIGNAL
        )
        if declared is not None:
            grace = declared.stop_grace_period
            dependencies = tuple(declared.dependencies)
        else:
            grace = _float(carried.get(labels.STOP_GRACE))
            dependencies = tuple(d for d in carried.get(labels.DEPENDS_ON, "").split(",") if d)
        result[name] = StopTarget(
            name,
            container.id,
            container.running,
            signal,
            DEFAULT_STOP_GRACE_S if grace is None else grace,
            dependencies,
        )
    return result


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _engine(
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    timeout: float | None = engine.API_TIMEOUT_S,
    ok: Iterable[int] = (),
) -> bytes:
    """One engine call; a status other than 2xx, 304 or one of `ok` is a UserError."""
    status, body = engine.call(method, path, params, timeout)
    if status < 300 or status == 304 or status in ok:
        return body
    try:
        message = json.loads(body).get("message") or ""
    except ValueError:
        message = body[:200].decode(errors="replace")
    raise UserError(f"Docker engine error on {method} {path}: HTTP {status} {message}".strip())


def _signal(container_id: str, signal: str) -> None:
    """Send `signal`; a container that is not running (409) or gone (404) has nothing to
    signal, and its waiter reports it."""
    _engine("POST", f"/containers/{container_id}/kill", {"signal": signal}, ok=(404, 409))


def _wait_exit(container_id: str) -> None:
    """Return once the container is not running (at once when it already is not)."""
    _engine(
        "POST",
        f"/containers/{container_id}/wait",
        {"condition": "not-running"},
        timeout=None,
        ok=(404,),
    )


def _remove(container_id: str) -> None:
    _engine("DELETE", f"/containers/{container_id}", {"force": "1"}, ok=(404,))


def stop(stopping: Mapping[str, StopTarget], remove: bool, report: Report) -> list[str]:
    """Stop (and with `remove`, remove) every target: each gets its signal once every service
    depending on it has exited, so a whole level is signalled at once; removals run beside
    the stops and never hold up the next level. Returns the services in the order they
    were done. Engine calls run in daemon threads, so Ctrl-C leaves at once (what was not
    done yet is left as it is)."""
    events: queue.Queue[tuple[str, str, BaseException | None]] = queue.Queue()

    def beside(kind: str, name: str, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
                events.put((kind, name, None))
            except BaseException as exc:  # handed to the main thread, raised there
                events.put((kind, name, exc))

        threading.Thread(target=run, name=f"{kind}-{name}", daemon=True).start()

    dependents = {
        name: {n for n, t in stopping.items() if name in t.dependencies} for name in stopping
    }
    waiting = dict(stopping)
    kill_due: dict[str, float] = {}  # signalled, still running → when SIGKILL is due
    in_flight: set[str] = set()  # signalled (or killed), not exited yet
    killed: set[str] = set()
    exited: set[str] = set()
    done: list[str] = []

    def exit_of(name: str) -> None:
        exited.add(name)
        kill_due.pop(name, None)
        in_flight.discard(name)
        after = " after SIGKILL" if name in killed else ""
        if remove:
            report(name, "removing", "exited" + after)
            beside("removed", name, lambda: _remove(stopping[name].container_id))
        else:
            done.append(name)
            report(name, "stopped", after.strip())

    def release() -> None:
        """Signal every waiting target whose dependents have all exited (again after a
        target that was not running is done: what it blocked is free now)."""
        while waiting:
            blocked = {n for n in waiting if dependents[n] - exited}
            if blocked == set(waiting) and not in_flight:
                blocked = set()  # a cycle (labels of containers from different configurations)
            if blocked == set(waiting):
                return
            for name in sorted(set(waiting) - blocked):
                target = waiting.pop(name)
                if not target.running:
                    exit_of(name)  # nothing to wait for
                    continue
                report(name, "stopping", f"sent {target.how}")
                kill_due[name] = time.monotonic() + target.grace
                in_flight.add(name)
                beside("exited", name, lambda t=target: _wait_exit(t.container_id))
                beside("signalled", name, lambda t=target: _signal(t.container_id, t.signal))

    release()
    while len(done) < len(stopping):
        due = min(kill_due.values(), default=None)
        try:
            kind, name, error = events.get(
                timeout=None if due is None else max(0.0, due - time.monotonic())
            )
        except queue.Empty:
            now = time.monotonic()
            for name, when in sorted(kill_due.items()):
                if when <= now and name not in killed:
                    killed.add(name)
                    target = stopping[name]
                    report(
                        name,
                        "stopping",
                        f"killed: still running after "
                        f"{format_duration(target.grace)} ({target.signal} ignored)",
                    )
                    beside("signalled", name, lambda t=target: _signal(t.container_id, "SIGKILL"))
            for name in killed:
                kill_due.pop(name, None)  # its waiter reports the exit
            continue
        if error is not None:
            raise error
        if kind == "exited":
            exit_of(name)
            release()
        elif kind == "removed":
            done.append(name)
            report(name, "removed", "after SIGKILL" if name in killed else "")
    return done


def down(
    namespace: str,
    services: Mapping[str, Service] | None,
    volumes: bool,
    report: Report,
    declared_volumes: Mapping[str, object] | None = None,
) -> list[str]:
    """Stop and remove every container of `namespace`, then its network and its volumes but
    the persistent ones (all of them with `volumes`). `services` None: services.yaml is
    broken, so the containers' labels decide."""
    from dataplatform.services import found
    from dataplatform.services import volumes as volumes_mod

    removed = stop(targets(found.containers(namespace), services), remove=True, report=report)
    ours = {"label": [f"{labels.PROJECT}={namespace}"]}
    for network in engine.get_json("/networks", {"filters": ours}):
        _engine("DELETE", f"/networks/{network['Id']}", ok=(404,))
    listed = engine.get_json("/volumes", {"filters": ours}).get("Volumes") or []
    for name in volumes_mod.to_remove(listed, namespace, volumes, declared_volumes, services):
        _engine("DELETE", f"/volumes/{name}", ok=(404,))
    return removed


def restart_levels(
    services: Mapping[str, Service] | None, name: str, running: Iterable[str]
) -> list[list[str]]:
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
            if (
                service.name not in chosen
                and service.name in running
                and chosen & set(service.restart_deps)
            ):
                chosen.add(service.name)
                grew = True
    edges = {
        n: [d for d in declared[n].dependencies if d in chosen and d != name]
        if n in declared and n != name
        else []
        for n in chosen
    }
    depth: dict[str, int] = {}
    for node in start_order(edges):
        depth[node] = 0 if node == name else 1 + max((depth[d] for d in edges[node]), default=0)
    levels: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node in sorted(depth):
        levels[depth[node]].append(node)
    return levels


def restart(
    found: Mapping[str, Found],
    services: Mapping[str, Service] | None,
    name: str,
    timeout: float,
    report: Report,
) -> list[str]:
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
        report(
            dependent,
            "waiting",
            f"restarts once {', '.join(why) or name} is ready (depends_on restart: true)",
        )
    for level in levels:
        chosen = {n: found[n] for n in level}
        stop(targets(chosen, services), remove=False, report=report)
        for service, container in chosen.items():
            _engine("POST", f"/containers/{container.id}/start")
            report(service, "starting", "")
        _wait_ready({n: c.id for n, c in chosen.items()}, timeout, report)
    return later


def _wait_ready(ids: Mapping[str, str], timeout: float, report: Report) -> None:
    """Poll (short adaptive waits) until every container in `ids` is ready; the first that
    fails, or is not ready in `timeout` seconds, is an UpFailed with its last log lines."""
    from dataplatform.services.execute import LOG_LINES, UpFailed

    deadline = time.monotonic() + timeout
    pending = dict(ids)
    pause = POLL_S[0]
    while pending:
        for name, container_id in list(pending.items()):
            attrs = engine.get_json(f"/containers/{container_id}/json", missing_ok=True)
            state, detail = (
                readiness(attrs) if attrs is not None else ("failed", "its container disappeared")
            )
            report(name, state, detail)
            if state == "ready":
                del pending[name]
            elif state == "failed" or time.monotonic() > deadline:
                if state != "failed":
                    detail = f"not ready after {timeout:g}s ({detail})"
                log = (
                    ""
                    if attrs is None
                    else engine.client()
                    .api.logs(container_id, tail=LOG_LINES)
                    .decode(errors="replace")
                )
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
        return "failed", (
            f"unhealthy: health check {shown} failed "
            f"(exit {last.get('ExitCode')}): {output or 'no output'}"
        )
    interval = (check.get("Interval") or 30_000_000_000) / 1e9
    return "waiting", f"health check {shown} (every {format_duration(interval)})"
