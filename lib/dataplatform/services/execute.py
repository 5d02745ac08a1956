"""Run a convergence plan (services/plan.py) against the engine: each step one engine call,
in the order its `after` allows; `wait` steps poll our containers with one list call per round,
at short adaptive intervals (50 ms growing to 200 ms), so nothing sleeps a fixed time. Steps
that are ready together (their prerequisites done) run at once.

Ctrl-C (SIGINT) does not cut an engine call in half: it is noted, the current call finishes,
and `Interrupted` names what was started and what was not. Containers are created with their
labels in the same call, so an interrupted `up` never leaves an unlabelled container.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dataplatform import labels
from dataplatform.errors import UserError
from dataplatform.services import ports
from dataplatform.services.desired import DesiredContainer
from dataplatform.services.durations import DEFAULT_STOP_GRACE_S
from dataplatform.services.observe import Observed, ObservedContainer, containers_of
from dataplatform.services.plan import (
    CREATE_STEP,
    NETWORK,
    REMOVE,
    START_STEP,
    STOP,
    VOLUME,
    WAIT,
    Plan,
    Step,
)

Report = Callable[[str, str, str], None]  # service, state, detail
LOG_LINES = 20
FIRST_POLL_S = 0.05
MAX_POLL_S = 0.2  # one list call on the local socket: cheap, and a ready service is seen soon
PARALLEL_CALLS = 8


class UpFailed(UserError):
    def __init__(self, service: str, reason: str, logs: str):
        self.service = service
        self.reason = reason
        self.logs = logs
        tail = "\n".join(f"    {line}" for line in logs.splitlines()[-LOG_LINES:])
        message = f"service {service}: {reason}"
        if tail:
            message += f"\nlast log lines of {service}:\n{tail}"
        super().__init__(message)


class Interrupted(Exception):
    """Ctrl-C during `up`; the engine is left as the finished steps made it."""

    def __init__(self, started: list[str], not_started: list[str]):
        self.started = started
        self.not_started = not_started
        parts = [f"started: {', '.join(started)}" if started else "nothing was started"]
        if not_started:
            parts.append(f"not started: {', '.join(not_started)}")
        super().__init__(
            "interrupted — " + "; ".join(parts) + " (run invoke up again to finish, or invoke down)"
        )


class _Flag:
    """Set by the first SIGINT; a second one interrupts at once."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.set = True
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def _deferred_interrupts() -> Iterator[_Flag]:
    flag = _Flag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, flag)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def readiness(
    seen: ObservedContainer | None, want: DesiredContainer, condition: str
) -> tuple[str, str]:
    """(`ready` | `waiting` | `failed`, detail) of a container for a wait step's condition
    (`healthy`, `completed` or `running`)."""
    if seen is None:
        return "failed", "its container disappeared"
    if seen.state == "exited":
        if seen.exit_code == 0 and (condition == "completed" or want.healthcheck is None):
            return "ready", "completed"
        return "failed", f"exited with code {seen.exit_code}"
    if seen.state != "running":
        return "waiting", seen.state or "?"
    if condition == "completed":
        return "waiting", "running (a job others wait for)"
    if want.healthcheck is None or condition == "running":
        return "ready", "running"
    if seen.health == "healthy":
        return "ready", "healthy"
    if seen.health == "unhealthy":
        return "failed", "unhealthy"
    return "waiting", "health: starting"


def check_ports(made: Plan, wanted: Mapping[str, DesiredContainer], observed: Observed) -> None:
    """Every host port a service about to (re)start publishes is free — or held by that
    service's own container, which the plan replaces. Before any step runs."""
    moving = {step.target for step in made.steps if step.kind in (CREATE_STEP, START_STEP)}
    for name in sorted(moving, key=list(wanted).index):
        want = wanted[name]
        own = observed.ours.get(name)
        for port in want.ports:
            if port.host is None or (own is not None and port.host in own.host_ports):
                continue
            if not ports.is_free(port.host, port.host_ip, port.protocol):
                holder = observed.port_holder(port.host)
                who = holder.describe() if holder else ports.process_holding(port.host)
                raise UserError(
                    f"port {port.host} for service {name} is already in use by "
                    f"{who or 'something else'} — free it, or change the host "
                    f"port in {want.service.declared_in}"
                )


class Executor:
    def __init__(
        self,
        api: Callable[[], Any],
        namespace: str,
        network: str,
        wanted: Mapping[str, DesiredContainer],
        observed: Observed,
        report: Report,
    ):
        """`api`: gives the docker.APIClient, asked for only when a step changes something
        (waiting reads the engine with plain HTTP)."""
        self._api_factory = api
        self._api: Any = None
        self.namespace = namespace
        self.network = network
        self.wanted = wanted
        self.ids = {name: c.id for name, c in observed.ours.items()}
        self.report = report
        self.started: list[str] = []

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = self._api_factory()
        return self._api

    # -- one engine call per step ------------------------------------------------------------
    def _network(self) -> None:
        if not [
            n for n in self.api.networks(names=[self.network]) if n.get("Name") == self.network
        ]:
            self.api.create_network(self.network, labels={labels.PROJECT: self.namespace})

    def _volume(self, name: str) -> None:
        spec = next(v for want in self.wanted.values() for v in want.volumes if v.name == name)
        self.api.create_volume(name, labels=dict(spec.labels))  # returns an existing one

    def _create(self, name: str) -> None:
        import docker.types

        want = self.wanted[name]
        bindings = {
            f"{p.container}/{p.protocol}": (p.host_ip, p.host) if p.host_ip else p.host
            for p in want.ports
            if p.host is not None
        }
        mounts = [
            docker.types.Mount(
                m.target, m.source, type="volume" if m.named else "bind", read_only=m.read_only
            )
            for m in want.mounts
        ]
        host_config = self.api.create_host_config(
            port_bindings=bindings or None, mounts=mounts or None
        )
        networking = self.api.create_networking_config(
            {self.network: self.api.create_endpoint_config(aliases=[name])}
        )
        grace = getattr(want.service, "stop_grace_period", None)
        created = self.api.create_container(
            want.image,
            command=want.command,
            name=want.name,
            environment=want.environment,
            labels=want.labels,
            ports=[(p.container, p.protocol) for p in want.ports] or None,
            host_config=host_config,
            healthcheck=want.healthcheck,
            hostname=name,
            networking_config=networking,
            detach=True,
            stop_signal=getattr(want.service, "stop_signal", None),
            stop_timeout=int(grace) if grace is not None else None,
        )
        self.ids[name] = created["Id"]

    def _run(self, step: Step) -> None:
        name = step.target
        if step.kind == NETWORK:
            self._network()
        elif step.kind == VOLUME:
            self._volume(name)
        elif step.kind == STOP:
            self.report(name, "stopping", step.detail)
            grace = getattr(self.wanted[name].service, "stop_grace_period", None)
            self.api.stop(
                self.ids[name], timeout=int(grace if grace is not None else DEFAULT_STOP_GRACE_S)
            )
        elif step.kind == REMOVE:
            self.report(name, "removing", step.detail)
            self.api.remove_container(self.ids.pop(name), force=True)
        elif step.kind == CREATE_STEP:
            self.report(name, "creating", step.detail)
            self._create(name)
        elif step.kind == START_STEP:
            self.report(name, "starting", step.detail)
            self.api.start(self.ids[name])
            self.started.append(name)

    # -- waiting -----------------------------------------------------------------------------
    def _failure_detail(self, name: str) -> str:
        want = self.wanted[name]
        try:
            state = self.api.inspect_container(self.ids[name])["State"]
        except Exception:  # the detail is a courtesy; the failure stands
            return "unhealthy"
        last = ((state.get("Health") or {}).get("Log") or [{}])[-1]
        output = " ".join((last.get("Output") or "").split())[:300]
        test = " ".join((want.healthcheck or {}).get("test", [])[1:])
        return (
            f"unhealthy: health check `{test}` failed (exit {last.get('ExitCode')}): "
            f"{output or 'no output'}"
        )

    def logs(self, name: str) -> str:
        try:
            return self.api.logs(self.ids[name], tail=LOG_LINES).decode(errors="replace")
        except Exception:  # logs are a courtesy in an error message
            return ""

    def run(self, made: Plan, timeout: float) -> None:
        steps = made.steps
        for name, decision in made.decisions.items():
            if decision in ("keep", "completed") and not any(s.target == name for s in steps):
                self.report(name, "ready", made.reasons[name])
        pending = list(range(len(steps)))
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        delay = FIRST_POLL_S
        last: dict[str, tuple[str, str]] = {}
        with _deferred_interrupts() as interrupted:
            try:
                while pending:
                    runnable = [i for i in pending if all(a in done for a in steps[i].after)]
                    progressed = False
                    calls = [i for i in runnable if steps[i].kind != WAIT]
                    if calls:
                        if interrupted.set:
                            raise KeyboardInterrupt
                        self._run_all([steps[i] for i in calls])
                        done.update(calls)
                        progressed = True
                    waits = [i for i in runnable if steps[i].kind == WAIT]
                    if waits and not progressed:
                        seen = containers_of(self.namespace)
                        for index in waits:
                            name = steps[index].target
                            state, detail = readiness(
                                seen.get(name), self.wanted[name], steps[index].detail
                            )
                            last[name] = (state, detail)
                            self.report(name, state, detail)
                            if state == "ready":
                                done.add(index)
                                progressed = True
                            elif state == "failed":
                                if detail == "unhealthy":
                                    detail = self._failure_detail(name)
                                raise UpFailed(name, detail, self.logs(name))
                    pending = [i for i in pending if i not in done]
                    if progressed or not pending:
                        delay = FIRST_POLL_S
                        continue
                    if interrupted.set:
                        raise KeyboardInterrupt
                    if time.monotonic() > deadline:
                        name = steps[pending[0]].target
                        _, detail = last.get(name, ("", "never started"))
                        raise UpFailed(
                            name,
                            f"not ready after {timeout:g}s ({detail})",
                            self.logs(name) if name in self.ids else "",
                        )
                    time.sleep(delay)
                    delay = min(delay * 1.5, MAX_POLL_S)
            except KeyboardInterrupt:
                moving = [n for n, d in made.decisions.items() if d not in ("keep", "completed")]
                raise Interrupted(
                    self.started, [n for n in moving if n not in self.started]
                ) from None

    def _run_all(self, batch: list[Step]) -> None:
        """Steps whose prerequisites are all done are independent: run them at once (creating
        containers is slow on some storage drivers), each to its end; the first failure is
        raised once all have finished."""
        if len(batch) == 1:
            self._run_step(batch[0])
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(batch), PARALLEL_CALLS)) as pool:
            futures = [pool.submit(self._run_step, step) for step in batch]
        for future in futures:
            future.result()

    def _run_step(self, step: Step) -> None:
        import docker.errors

        try:
            self._run(step)
        except docker.errors.APIError as exc:
            if step.kind in (NETWORK, VOLUME):
                raise UserError(
                    f"could not create the {step.kind} {step.target}: {exc.explanation or exc}"
                ) from None
            raise UpFailed(
                step.target, f"could not {step.kind} its container: {exc.explanation or exc}", ""
            ) from None
