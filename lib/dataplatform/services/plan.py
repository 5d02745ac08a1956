"""The convergence plan of `up`: a pure function from the desired services and the observed
engine to the steps that make them match (compose's observe → plan → execute).

Per service the decision is one of:

- keep       its container runs with the same config hash and image (nothing to do)
- completed  a one-shot job whose container exited 0 with the same config: it stays completed
- create     it has no container
- recreate   its config hash or image changed: remove, create, start
- start      its container (same config) is stopped, crashed or only created
- restart    kept, but a `restart: true` dependency is recreated or started: stop, start

Each step is one engine call (`wait` polls until the service is ready) and names the steps it
must follow: a service starts once its dependencies meet their conditions. A foreign container
holding one of our container names is a conflict found here, before anything starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dataplatform.services.observe import Observed, ObservedContainer

KEEP, COMPLETED, CREATE, RECREATE, START, RESTART = (
    "keep",
    "completed",
    "create",
    "recreate",
    "start",
    "restart",
)
# Step kinds (one engine call each; `network`/`volume` create only what is missing).
NETWORK, VOLUME, STOP, REMOVE, CREATE_STEP, START_STEP, WAIT = (
    "network",
    "volume",
    "stop",
    "remove",
    "create",
    "start",
    "wait",
)
_DONE = {CREATE: "created", RECREATE: "recreated", START: "started", RESTART: "restarted"}
STARTED, HEALTHY, COMPLETED_OK = (
    "service_started",
    "service_healthy",
    "service_completed_successfully",
)


@dataclass(frozen=True)
class Want:
    """What the planner needs of one desired service."""

    name: str
    container: str  # its container name
    config_hash: str
    image_id: str
    depends_on: tuple[tuple[str, str], ...] = ()  # (service, condition)
    restart_deps: tuple[str, ...] = ()
    healthcheck: bool = False
    long_running: bool = False  # a server (health check or ports): exited means crashed
    volumes: tuple[str, ...] = ()  # named volumes it mounts


@dataclass(frozen=True)
class Step:
    kind: str
    target: str  # a service, or a network / volume name
    after: tuple[int, ...] = ()  # indices of the steps that must be done first
    detail: str = ""  # wait: healthy | completed | running; else why


@dataclass(frozen=True)
class Plan:
    decisions: Mapping[str, str] = field(default_factory=dict)  # service → decision
    reasons: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    conflicts: tuple[str, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.steps

    def services(self, decision: str) -> list[str]:
        return [name for name, made in self.decisions.items() if made == decision]


def _readiness(want: Want, jobs: set[str]) -> str:
    if want.name in jobs:
        return "completed"
    return "healthy" if want.healthcheck else "running"


def _is_ready(want: Want, seen: ObservedContainer, jobs: set[str]) -> bool:
    if seen.state == "exited":
        return seen.exit_code == 0 and not want.long_running
    if seen.state != "running":
        return False
    if want.name in jobs:
        return False  # still running; others wait for it to finish
    return not want.healthcheck or seen.health == "healthy"


def _decide(want: Want, seen: ObservedContainer | None) -> tuple[str, str]:
    if seen is None:
        return CREATE, "no container"
    if seen.config_hash != want.config_hash:
        if want.image_id and seen.image_id and seen.image_id != want.image_id:
            return RECREATE, "image changed"
        return RECREATE, "configuration changed"
    if seen.state == "running":
        return KEEP, "unchanged"
    if seen.state == "exited" and seen.exit_code == 0 and not want.long_running:
        return COMPLETED, "completed (exit 0), configuration unchanged"
    if seen.state == "exited":
        return START, f"exited with code {seen.exit_code}"
    return START, seen.state or "not running"


def conflicts(wants: Sequence[Want], observed: Observed) -> list[str]:
    """Foreign containers holding the name a service's container must have."""
    found = []
    for want in wants:
        holder = observed.others.get(want.container)
        if holder is not None:
            found.append(
                f"service {want.name}: the container name {want.container} is taken "
                f"by {holder.describe()} — remove or rename that container, or "
                "change the namespace in services.yaml"
            )
    return found


def plan(wants: Sequence[Want], observed: Observed, network: str = "") -> Plan:
    """`wants` in start order (dependencies first). Dependencies not among `wants` (optional
    ones that are not selected) are not waited for."""
    by_name = {w.name: w for w in wants}
    jobs = {dep for w in wants for dep, cond in w.depends_on if cond == COMPLETED_OK}
    decisions: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for want in wants:
        decisions[want.name], reasons[want.name] = _decide(want, observed.ours.get(want.name))
    # restart: true — a kept (or completed) service restarts when such a dependency changes
    for want in wants:
        if decisions[want.name] not in (KEEP, COMPLETED):
            continue
        changed = [
            d for d in want.restart_deps if decisions.get(d) in (CREATE, RECREATE, START, RESTART)
        ]
        if changed:
            decisions[want.name] = RESTART
            reasons[want.name] = f"dependency {changed[0]} is {_DONE[decisions[changed[0]]]}"
    found = conflicts([w for w in wants if decisions[w.name] == CREATE], observed)
    if found:
        return Plan(decisions, reasons, (), tuple(found))

    steps: list[Step] = []

    def add(kind: str, target: str, after: Sequence[int] = (), detail: str = "") -> int:
        steps.append(Step(kind, target, tuple(sorted(set(after))), detail))
        return len(steps) - 1

    creating = [w for w in wants if decisions[w.name] in (CREATE, RECREATE)]
    infrastructure: list[int] = []
    volume_steps: dict[str, int] = {}
    if creating:
        infrastructure.append(add(NETWORK, network, detail="create if missing"))
        for want in creating:
            for volume in want.volumes:
                if volume not in volume_steps:
                    volume_steps[volume] = add(VOLUME, volume, detail="create if missing")
    stops: dict[str, int] = {}
    for want in wants:
        if decisions[want.name] == RESTART:
            stops[want.name] = add(STOP, want.name, detail=reasons[want.name])
    started: dict[str, int] = {}  # service → its start step
    ready: dict[str, int] = {}  # service → its wait step
    for want in wants:
        decision = decisions[want.name]
        gates: list[int] = []
        for dependency, condition in want.depends_on:
            if dependency not in by_name:
                continue
            gate = started.get(dependency) if condition == STARTED else ready.get(dependency)
            if gate is not None:
                gates.append(gate)
        seen = observed.ours.get(want.name)
        if decision in (CREATE, RECREATE):
            before = list(infrastructure)
            before += [volume_steps[v] for v in want.volumes]
            if decision == RECREATE:
                # dependents that restart with it are stopped before it goes away
                before.append(
                    add(
                        REMOVE,
                        want.name,
                        [
                            stops[d.name]
                            for d in wants
                            if d.name in stops and want.name in d.restart_deps
                        ],
                        reasons[want.name],
                    )
                )
            created = add(CREATE_STEP, want.name, before + gates, reasons[want.name])
            started[want.name] = add(START_STEP, want.name, [created])
        elif decision in (START, RESTART):
            before = [stops[want.name]] if want.name in stops else []
            started[want.name] = add(START_STEP, want.name, before + gates, reasons[want.name])
        if decision in (KEEP, COMPLETED) and seen is not None and _is_ready(want, seen, jobs):
            continue
        after = [started[want.name]] if want.name in started else gates
        ready[want.name] = add(WAIT, want.name, after, _readiness(want, jobs))
    return Plan(decisions, reasons, tuple(steps), ())
