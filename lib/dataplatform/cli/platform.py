"""`invoke up / down / status / logs / restart / compose`: the local platform, by hand."""

from __future__ import annotations

import sys
import time

from invoke.exceptions import Exit
from rich.live import Live
from rich.table import Table

from dataplatform.cli.common import command, console, count, seconds
from dataplatform.errors import UserError
from dataplatform.project import find_project
from dataplatform.services import compose
from dataplatform.services.lifecycle import Platform

TIMEOUT = seconds("--timeout", 300)
TAIL = count("--tail", 100)
_STYLE = {"ready": "green", "failed": "red", "starting": "cyan", "waiting": "yellow"}


class Progress:
    """A live table on a terminal; one line per change of state elsewhere (CI, pipes)."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[str, str]] = {}
        self.started = time.monotonic()
        self.live = Live(self._table(), console=console, refresh_per_second=8) \
            if console.is_terminal else None

    def _table(self) -> Table:
        table = Table(box=None, show_header=False)
        for name, (state, detail) in self.states.items():
            table.add_row(name, f"[{_STYLE.get(state, 'white')}]{state}[/]", detail)
        return table

    def __call__(self, service: str, state: str, detail: str) -> None:
        if self.states.get(service) == (state, detail):
            return
        self.states[service] = (state, detail)
        if self.live is not None:
            self.live.update(self._table())
        else:
            elapsed = time.monotonic() - self.started
            console.print(f"{elapsed:6.1f}s  {service}: {state} {detail}".rstrip(),
                          markup=False)

    def __enter__(self) -> Progress:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)


def _platform() -> Platform:
    return Platform(find_project())


@command(
    name="up",
    iterable=["service", "profile"],
    help={"service": "start only this service and what it depends on (repeatable)",
          "profile": "also start services of this profile (repeatable)",
          "timeout": "seconds to wait for everything to be ready"},
)
def up(c, service=None, profile=None, timeout=TIMEOUT):
    """Start the platform: images, network, volumes, services in dependency order, health-gated."""
    platform = _platform()
    started = time.monotonic()
    with Progress() as progress:
        result = platform.up(service or None, profile or None, timeout, progress)
    parts = [f"{len(v)} {k}" for k, v in (("created", result.created),
                                          ("recreated", result.recreated),
                                          ("restarted", result.restarted),
                                          ("unchanged", result.kept)) if v]
    console.print(f"platform {platform.namespace} is up ({', '.join(parts)}) in "
                  f"{time.monotonic() - started:.1f}s", markup=False)


@command(name="down", help={"volumes": "also remove persistent volumes (their data is lost)",
                            "yes": "do not ask before removing persistent volumes"})
def down(c, volumes=False, yes=False):
    """Stop and remove the platform's containers in reverse dependency order."""
    platform = _platform()
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise UserError("--volumes deletes the platform's data; add --yes to confirm "
                            "when not running interactively")
        answer = input(f"Delete the persistent volumes of {platform.namespace}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise Exit("nothing removed", code=1)
    with Progress() as progress:
        removed = platform.down(volumes=volumes, report=progress)
    console.print(f"removed {len(removed)} container(s) of {platform.namespace}"
                  + ("; persistent volumes removed" if volumes else
                     "; persistent volumes kept"), markup=False)


@command(name="status")
def status(c):
    """Table of services: state, health, ports, image, uptime, and configuration drift."""
    platform = _platform()
    table = Table(title=f"platform {platform.namespace}", title_justify="left")
    for column in ("service", "state", "health", "ports", "image", "uptime", "drift"):
        table.add_column(column)
    for row in platform.status():
        table.add_row(*(str(row[k]) for k in ("service", "state", "health", "ports", "image",
                                               "uptime", "drift")))
    console.print(table)


@command(name="logs", help={"service": "the service whose log to show (see invoke status)",
                            "follow": "keep streaming new lines",
                            "tail": "how many of the last lines to show first"})
def logs(c, service, follow=False, tail=TAIL):
    """Show the log of SERVICE's container."""
    container = _platform().container(service)
    if follow:
        for chunk in container.logs(stream=True, follow=True, tail=tail):
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
    else:
        sys.stdout.write(container.logs(tail=tail).decode(errors="replace"))


@command(name="restart", help={"service": "the service to restart (see invoke status)",
                               "timeout": "seconds to wait for it to be ready again"})
def restart(c, service, timeout=TIMEOUT):
    """Restart SERVICE and wait until it is ready again."""
    with Progress() as progress:
        _platform().restart(service, timeout, progress)
    console.print(f"{service} restarted and ready", markup=False)


@command(name="compose", help={"output": "where to write it, relative to the project root "
                                         "(default compose.yaml)"})
def compose_file(c, output="compose.yaml"):
    """Write an equivalent compose.yaml for `docker compose` (values keep their ${VAR}s)."""
    project = find_project()
    platform = Platform(project)
    text = compose.render(project, platform.manifest)
    target = project.root / output
    target.write_text(text)
    console.print(f"wrote {project.relative(target)} ({len(platform.manifest.services)} "
                  "services)", markup=False)
