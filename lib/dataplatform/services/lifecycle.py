"""The local platform on a Docker engine: up (converge and wait, health-gated); down, status,
logs and restart live in services/stop.py, status.py and found.py. Every container, network
and volume carries the namespace label; nothing without it is ever stopped or removed.

`up` starts every selected service whose dependencies meet their conditions, in parallel, and
polls until each is ready: healthy when it has a health check, exited 0 when others wait for it
to complete, running otherwise. A container whose config hash matches and which is running is
left alone; a changed one is recreated; a dead one is started again.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import docker
import docker.errors

from dataplatform import interpolate, labels
from dataplatform.errors import UserError
from dataplatform.images import engine
from dataplatform.images import fingerprint as fp
from dataplatform.project import Project
from dataplatform.services import desired as desired_mod
from dataplatform.services import graph, ports
from dataplatform.services.desired import HASH_LABEL, SERVICE_LABEL, DesiredContainer
from dataplatform.services.manifest import ServicesManifest, load_services
from dataplatform.services.spec import Service

Report = Callable[[str, str, str], None]  # service, state, detail
LOG_LINES = 20
POLL_S = 0.25


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


@dataclass
class UpResult:
    kept: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)


def _quiet(service: str, state: str, detail: str) -> None:
    pass


class Platform:
    def __init__(self, project: Project, manifest: ServicesManifest | None = None):
        self.project = project
        self.manifest = manifest or load_services(project)
        self.namespace = self.manifest.namespace
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = engine.client()
        return self._client

    # -- selection ----------------------------------------------------------------------------
    def select(self, names: list[str] | None = None, profiles: list[str] | None = None
               ) -> list[Service]:
        services = self.manifest.services
        for name in names or []:
            if name not in services:
                raise UserError(f"no service {name!r} in {self.manifest.declared_in} — "
                                f"services: {', '.join(sorted(services))}")
        if names:
            wanted = graph.closure(self.manifest.edges(), names)
        else:
            wanted = {n for n, s in services.items()
                      if not s.profiles or set(s.profiles) & set(profiles or [])}
            wanted = graph.closure(self.manifest.edges(), sorted(wanted))
        order = graph.start_order({n: services[n].dependencies for n in wanted})
        return [services[n] for n in order]

    # -- images -------------------------------------------------------------------------------
    def images(self, services: list[Service], fetch: bool = True) -> dict[str, tuple[str, str]]:
        """service → (image reference, image ID); builds through doit's image tasks and pulls
        what is missing, unless `fetch` is false (then missing images are left out)."""
        resolved: dict[str, tuple[str, str]] = {}
        to_build = [s for s in services if s.build is not None]
        if to_build and fetch:
            tasks = list(dict.fromkeys(f"image:{s.build.name}" for s in to_build))
            done = subprocess.run([sys.executable, "-m", "doit", *tasks, "strict=1"],
                                  cwd=self.project.root, capture_output=True, text=True)
            if done.returncode != 0:
                failed = [line for line in done.stdout.splitlines() if line.startswith("✗")]
                raise UserError("could not build images: " + ("; ".join(failed) or
                                                              done.stderr.strip()[-300:]))
        for service in services:
            if service.build is not None:
                digest = fp.of_project(service.build, self.project.root,
                                       self.project.state_dir)
                reference = f"{service.build.repository}:{digest.tag}"
            else:
                values = interpolate.variables(self.project.root)
                reference = interpolate.interpolate(service.image or "", values,
                                                    service.declared_in)
            image_id = self._image_id(service.name, reference, fetch)
            if image_id:
                resolved[service.name] = (reference, image_id)
        return resolved

    def _image_id(self, service: str, reference: str, fetch: bool = True) -> str | None:
        try:
            return self.client.images.get(reference).id
        except docker.errors.ImageNotFound:
            if not fetch:
                return None
        try:
            return self.client.images.pull(reference).id
        except docker.errors.APIError as exc:
            raise UserError(f"service {service}: image {reference} is not on this engine and "
                            f"cannot be pulled ({exc.explanation or exc}) — pull or build it "
                            "first") from None

    # -- containers ---------------------------------------------------------------------------
    def containers(self) -> dict[str, docker.models.containers.Container]:
        found = self.client.containers.list(
            all=True, filters={"label": f"{labels.PROJECT}={self.namespace}"})
        return {c.labels.get(SERVICE_LABEL, c.name): c for c in found}

    def desired(self, services: list[Service], fetch: bool = True
                ) -> dict[str, DesiredContainer]:
        images = self.images(services, fetch)
        values = interpolate.variables(self.project.root)
        return {s.name: desired_mod.desired(s, self.namespace, *images[s.name],
                                            self.project.root, values)
                for s in services if s.name in images}

    def _check_ports(self, wanted: dict[str, DesiredContainer], current: dict) -> None:
        for name, want in wanted.items():
            mine = current.get(name)
            keeps = (mine is not None and mine.status == "running"
                     and mine.labels.get(HASH_LABEL) == want.config_hash)
            for port in want.ports:
                if port.host is None or keeps:
                    continue
                if mine is not None and mine.status == "running":
                    continue  # it is ours and will be recreated, freeing the port
                if not ports.is_free(port.host, port.host_ip, port.protocol):
                    holder = self._port_holder(port.host) or ports.process_holding(port.host)
                    raise UserError(f"port {port.host} for service {name} is already in use "
                                    f"by {holder or 'something else'} — free it, or change "
                                    f"the host port in {want.service.declared_in}")

    def _port_holder(self, port: int) -> str | None:
        for container in self.client.containers.list():
            for bindings in (container.attrs.get("HostConfig", {}).get("PortBindings") or {}
                             ).values():
                for binding in bindings or []:
                    if str(binding.get("HostPort")) == str(port):
                        owner = container.labels.get(labels.PROJECT)
                        return (f"container {container.name}"
                                + (f" (namespace {owner})" if owner else " (not ours)"))
        return None

    def _ensure_network(self) -> None:
        name = desired_mod.network_name(self.namespace)
        if not self.client.networks.list(names=[name]):
            self.client.networks.create(name, labels={labels.PROJECT: self.namespace})

    def _ensure_volumes(self, want: DesiredContainer) -> None:
        for mount in want.mounts:
            if mount.named:
                try:
                    self.client.volumes.get(mount.source)
                except docker.errors.NotFound:
                    self.client.volumes.create(mount.source, labels={
                        labels.PROJECT: self.namespace, SERVICE_LABEL: want.service.name,
                        "dataplatform.persistent": str(want.service.persistent).lower()})

    def _create(self, want: DesiredContainer):
        self._ensure_volumes(want)
        port_map = {f"{p.container}/{p.protocol}": (p.host_ip, p.host) if p.host_ip else p.host
                    for p in want.ports if p.host is not None}
        mounts = [docker.types.Mount(m.target, m.source, type="volume" if m.named else "bind",
                                     read_only=m.read_only) for m in want.mounts]
        container = self.client.containers.create(
            want.image, command=want.command, name=want.name, environment=want.environment,
            labels=want.labels, ports=port_map or None, mounts=mounts or None,
            healthcheck=want.healthcheck, network=desired_mod.network_name(self.namespace),
            hostname=want.service.name, stop_signal=want.service.stop_signal, detach=True)
        network = self.client.networks.get(desired_mod.network_name(self.namespace))
        network.disconnect(container)
        network.connect(container, aliases=[want.service.name])
        container.start()
        return container

    def _converge(self, want: DesiredContainer, current, is_job: bool, result: UpResult):
        if current is not None and current.labels.get(HASH_LABEL) == want.config_hash:
            if current.status == "running":
                result.kept.append(want.service.name)
                return current
            code = current.attrs.get("State", {}).get("ExitCode")
            if is_job and current.status == "exited" and code == 0:
                result.kept.append(want.service.name)
                return current
            current.start()
            result.restarted.append(want.service.name)
            return current
        if current is not None:
            current.remove(force=True)
            result.recreated.append(want.service.name)
        else:
            result.created.append(want.service.name)
        return self._create(want)

    def up(self, names: list[str] | None = None, profiles: list[str] | None = None,
           timeout: float = 300.0, report: Report = _quiet) -> UpResult:
        services = self.select(names, profiles)
        if not services:
            raise UserError("no service to start — every service has a profile; pass --profile")
        wanted = self.desired(services)  # interpolation and images: before anything starts
        current = self.containers()
        self._check_ports(wanted, current)
        self._ensure_network()
        jobs = {dep for s in services for dep, cond in s.depends_on
                if cond == "service_completed_successfully"}
        result = UpResult()
        started: dict[str, object] = {}
        ready: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(ready) < len(services):
            for service in services:
                name = service.name
                if name in started:
                    continue
                if all(self._condition_met(dep, cond, started, ready)
                       for dep, cond in service.depends_on):
                    report(name, "starting", "")
                    try:
                        started[name] = self._converge(wanted[name], current.get(name),
                                                       name in jobs, result)
                    except docker.errors.APIError as exc:
                        raise UpFailed(name, "could not start: "
                                       f"{exc.explanation or exc}", "") from None
            for name, container in started.items():
                if name in ready:
                    continue
                state, detail = self._readiness(container, wanted[name], name in jobs)
                report(name, state, detail)
                if state == "ready":
                    ready.add(name)
                elif state == "failed":
                    raise UpFailed(name, detail, self._logs(container))
            if len(ready) < len(services):
                if time.monotonic() > deadline:
                    waiting = [s.name for s in services if s.name not in ready]
                    name = next((n for n in waiting if n in started), waiting[0])
                    container = started.get(name)
                    _, detail = (self._readiness(container, wanted[name], name in jobs)
                                 if container else ("", "never started"))
                    raise UpFailed(name, f"not ready after {timeout:g}s ({detail})",
                                   self._logs(container) if container else "")
                time.sleep(POLL_S)
        return result

    @staticmethod
    def _condition_met(dependency: str, condition: str, started: dict, ready: set) -> bool:
        if condition == "service_started":
            return dependency in started
        return dependency in ready

    def _readiness(self, container, want: DesiredContainer, is_job: bool) -> tuple[str, str]:
        container.reload()
        state = container.attrs.get("State", {})
        status = state.get("Status")
        if status == "exited":
            code = state.get("ExitCode")
            if code == 0 and (is_job or want.healthcheck is None):
                return "ready", "completed"
            return "failed", f"exited with code {code}"
        if status != "running":
            return "waiting", status or "?"
        if is_job:
            return "waiting", "running (a job others wait for)"
        health = state.get("Health")
        if want.healthcheck is None or not health:
            return "ready", "running"
        if health.get("Status") == "healthy":
            return "ready", "healthy"
        if health.get("Status") == "unhealthy":
            last = (health.get("Log") or [{}])[-1]
            output = " ".join((last.get("Output") or "").split())[:300]
            test = " ".join(want.healthcheck["test"][1:])
            return "failed", (f"unhealthy: health check `{test}` failed "
                              f"(exit {last.get('ExitCode')}): {output or 'no output'}")
        return "waiting", "health: starting"

    def _logs(self, container, tail: int = LOG_LINES) -> str:
        try:
            return container.logs(tail=tail).decode(errors="replace")
        except docker.errors.APIError:
            return ""
