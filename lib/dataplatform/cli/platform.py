"""`invoke up / down / status / logs / restart / compose`: the local platform, by hand.

Only what every command needs is imported here; the docker SDK, rich's live display and
tables, YAML and the service modules are imported inside the command that uses them, so
`invoke status` does not pay for what `up` uses (and no command pays for the others').
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from invoke.exceptions import Exit

from dataplatform.cli.common import command, console, count, errors, human_age, seconds
from dataplatform.errors import UserError

if TYPE_CHECKING:
    from dataplatform.project import Project
    from dataplatform.services.lifecycle import Platform
    from dataplatform.services.recovery import Loaded
    from dataplatform.services.status import Row

TIMEOUT = seconds("--timeout", 300)
TAIL = count("--tail", 100)
_STYLE = {
    "ready": "green",
    "failed": "red",
    "starting": "cyan",
    "waiting": "yellow",
    "stopping": "yellow",
    "removed": "green",
    "stopped": "green",
}


class Progress:
    """A live table on a terminal (each row with the time spent in its state); one line per
    change of state elsewhere (CI, pipes)."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[str, str, float]] = {}
        self.started = time.monotonic()
        self.live: Any = None
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(self, console=console, refresh_per_second=8)

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(box=None, show_header=False)
        now = time.monotonic()
        for name, (state, detail, since) in list(self.states.items()):  # refresh thread
            waited = f"{now - since:.0f}s" if state in ("stopping", "waiting", "starting") else ""
            table.add_row(name, f"[{_STYLE.get(state, 'white')}]{state}[/]", detail, waited)
        return table

    def __call__(self, service: str, state: str, detail: str) -> None:
        previous = self.states.get(service)
        if previous is not None and previous[:2] == (state, detail):
            return
        since = previous[2] if previous is not None and previous[0] == state else time.monotonic()
        self.states[service] = (state, detail, since)
        if self.live is not None:
            self.live.refresh()
        else:
            elapsed = time.monotonic() - self.started
            console.print(f"{elapsed:6.1f}s  {service}: {state} {detail}".rstrip(), markup=False)

    def __enter__(self) -> Progress:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)


def _platform() -> Platform:
    from dataplatform.project import find_project
    from dataplatform.services.lifecycle import Platform

    return Platform(find_project())


def _loaded(project: Project | None = None) -> Loaded:
    """services.yaml, or (when it is broken) one line saying so and the namespace to work on
    from the engine's labels."""
    from dataplatform.project import find_project
    from dataplatform.services import recovery

    loaded = recovery.load(project or find_project())
    if loaded.notice:
        errors.print(f"! {loaded.notice}", markup=False, soft_wrap=True)
    return loaded


@command(
    name="up",
    iterable=["service", "profile"],
    help={
        "service": "start only this service and what it depends on (repeatable)",
        "profile": "also start services of this profile (repeatable)",
        "timeout": "seconds to wait for everything to be ready",
    },
)
def up(c, service=None, profile=None, timeout=TIMEOUT):
    """Start the platform: images, network, volumes, services in dependency order, health-gated.
    Unchanged containers are kept, changed ones recreated, stopped ones started; a job that
    exited 0 stays completed. Ctrl-C stops after the current engine call and says what started."""
    from dataplatform.services.execute import Interrupted

    platform = _platform()
    started = time.monotonic()
    try:
        with Progress() as progress:
            result = platform.up(service or None, profile or None, timeout, progress)
    except Interrupted as exc:
        errors.print(f"✗ {exc}", markup=False, soft_wrap=True)
        raise Exit(code=130) from None
    except KeyboardInterrupt:
        errors.print("✗ interrupted — nothing was started", markup=False, soft_wrap=True)
        raise Exit(code=130) from None
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    parts = [
        f"{len(v)} {k}"
        for k, v in (
            ("created", result.created),
            ("recreated", result.recreated),
            ("restarted", result.restarted),
            ("unchanged", result.kept),
        )
        if v
    ]
    console.print(
        f"platform {platform.namespace} is up ({', '.join(parts)}) in "
        f"{time.monotonic() - started:.1f}s",
        markup=False,
    )


@command(
    name="down",
    help={
        "volumes": "also remove persistent volumes (their data is lost)",
        "yes": "do not ask before removing persistent volumes",
    },
)
def down(c, volumes=False, yes=False):
    """Stop and remove the platform's containers: dependents before what they depend on, all
    of a level at once, each with its stop_signal and stop_grace_period. Works from the
    engine's labels when services.yaml is broken."""
    loaded = _loaded()
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise UserError(
                "--volumes deletes the platform's data; add --yes to confirm "
                "when not running interactively"
            )
        answer = input(f"Delete the persistent volumes of {loaded.namespace}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise Exit("nothing removed", code=1)
    from dataplatform.services import stop

    services = loaded.manifest.services if loaded.manifest else None
    progress = Progress()
    try:
        with progress:
            removed = stop.down(
                loaded.namespace,
                services,
                volumes,
                progress,
                loaded.manifest.volumes if loaded.manifest else None,
            )
    except KeyboardInterrupt:
        gone = [n for n, (state, *_) in progress.states.items() if state == "removed"]
        left = [n for n, (state, *_) in progress.states.items() if state != "removed"]
        errors.print(
            f"✗ interrupted: removed {', '.join(gone) or 'nothing'}; not yet: "
            f"{', '.join(left) or 'the rest'} — run invoke down again to finish",
            markup=False,
            soft_wrap=True,
        )
        raise Exit(code=130) from None
    console.print(
        f"removed {len(removed)} container(s) of {loaded.namespace}"
        + ("; persistent volumes removed" if volumes else "; persistent volumes kept"),
        markup=False,
    )


def _hashes(loaded: Loaded) -> dict[str, str]:
    """Each declared service's config hash, for drift, from an inspection of each image it
    names (nothing is built or pulled; no listing of every image); a service whose image is
    missing, or with a ${VAR} without a value, has none (its drift shows as unknown)."""
    if loaded.manifest is None:
        return {}
    from dataplatform.project import find_project
    from dataplatform.services.lifecycle import Platform

    platform = Platform(find_project(), loaded.manifest)
    try:
        wanted = platform.desired(list(loaded.manifest.services.values()), fetch=False)
    except UserError:
        return {}
    return {name: want.config_hash for name, want in wanted.items()}


@command(name="status")
def status(c):
    """Table of services: state (with the exit code of an exited container), health, ports,
    image, uptime, drift from services.yaml. Works from the engine's labels when services.yaml
    is broken; piped or in CI, values are never cut."""
    from concurrent.futures import ThreadPoolExecutor

    from rich.table import Table

    from dataplatform.project import find_project
    from dataplatform.services import found, recovery
    from dataplatform.services import status as status_mod

    project = find_project()
    with ThreadPoolExecutor(max_workers=2) as beside:
        # The engine answers while services.yaml loads: its namespace read from the file's
        # `namespace:` line first, then confirmed by the real load (else asked again).
        guess = recovery.lenient_namespace(project)
        early = beside.submit(found.containers, guess)
        loaded = _loaded(project)
        hashes = beside.submit(_hashes, loaded)  # the drift hashes, beside the engine's answer
        if loaded.namespace == guess:
            containers = early.result()
        else:
            early.cancel()
            containers = found.containers(loaded.namespace)
    services = loaded.manifest.services if loaded.manifest else None
    rows = status_mod.rows(containers, services, hashes.result())
    table = Table(title=f"platform {loaded.namespace}", title_justify="left")
    for column in ("service", "state", "health", "ports", "image", "uptime", "drift"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = {"ok": "green", "failed": "red"}.get(row.outcome, "")
        state = f"[{style}]{row.shown_state}[/]" if style else row.shown_state
        table.add_row(row.service, state, row.health, row.ports, row.image, uptime(row), row.drift)
    console.print(table)


def uptime(row: Row) -> str:
    """`3m` for a container running 3 minutes; `ended 2h ago` for one that exited."""
    if row.running_for is not None:
        return human_age(row.running_for)
    if row.ended_ago is not None:
        return f"ended {human_age(row.ended_ago)} ago"
    return ""


def _unknown_service(service: str, loaded: Loaded, found: dict) -> UserError:
    from dataplatform.config.validate import suggestion

    declared = set(loaded.manifest.services) if loaded.manifest else set()
    known = sorted(declared | set(found))
    if loaded.manifest is not None and service in declared:
        return UserError(
            f"service {service!r} has no container in namespace "
            f"{loaded.namespace} — run invoke up first"
        )
    near = suggestion(service, known)
    if loaded.manifest is None:
        where = f"no container of it in namespace {loaded.namespace}, and services.yaml is broken"
    else:
        where = f"not in {loaded.manifest.declared_in or 'platform/services.yaml'}"
    hint = (
        f"did you mean '{near}'?"
        if near
        else (f"services: {', '.join(known)}" if known else "no services are declared")
    )
    return UserError(f"unknown service {service!r} ({where}) — {hint}")


@command(
    name="logs",
    help={
        "service": "the service whose log to show (see invoke status)",
        "follow": "keep streaming new lines",
        "tail": "how many of the last lines to show first",
    },
)
def logs(c, service, follow=False, tail=TAIL):
    """Show the log of SERVICE's container (also when services.yaml is broken)."""
    from dataplatform.images import engine
    from dataplatform.services import found as found_mod

    loaded = _loaded()
    found = found_mod.containers(loaded.namespace)
    if service not in found:
        raise _unknown_service(service, loaded, found)
    api = engine.client().api
    container_id = found[service].id
    if follow:
        for chunk in api.logs(container_id, stream=True, follow=True, tail=tail):
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
    else:
        sys.stdout.write(api.logs(container_id, tail=tail).decode(errors="replace"))


@command(
    name="restart",
    help={
        "service": "the service to restart (see invoke status)",
        "timeout": "seconds to wait for each level to be ready again",
    },
)
def restart(c, service, timeout=TIMEOUT):
    """Restart SERVICE (its stop_signal, then SIGKILL after its stop_grace_period) and wait
    until it is ready again (healthy, when it has a health check); then restart, the same
    way, the running services that declare `depends_on: {SERVICE: {restart: true}}`
    (transitively), each once what it depends on is ready."""
    from dataplatform.project import find_project
    from dataplatform.services import found as found_mod
    from dataplatform.services import recovery, stop

    loaded = recovery.load(find_project())
    if loaded.problem is not None:
        raise loaded.problem
    found = found_mod.containers(loaded.namespace)
    if service not in found:
        raise _unknown_service(service, loaded, found)
    with Progress() as progress:
        dependents = stop.restart(
            found, loaded.manifest.services if loaded.manifest else None, service, timeout, progress
        )
    also = (
        f"; then its dependents {', '.join(dependents)} (depends_on restart: true)"
        if dependents
        else ""
    )
    console.print(f"{service} restarted and ready{also}", markup=False)


@command(
    name="compose",
    help={"output": "where to write it, relative to the project root (default compose.yaml)"},
)
def compose_file(c, output="compose.yaml"):
    """Write an equivalent compose.yaml for `docker compose` (values keep their ${VAR}s)."""
    from dataplatform.services import compose

    platform = _platform()
    project = platform.project
    text = compose.render(project, platform.manifest)
    target = project.root / output
    target.write_text(text)
    console.print(
        f"wrote {project.relative(target)} ({len(platform.manifest.services)} services)",
        markup=False,
    )
