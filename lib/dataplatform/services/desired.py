"""What a service's container should look like: names, interpolated settings, and the config
hash that `up` compares with the label on a running container to keep, recreate or restart it
(the idea of docker compose's convergence)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dataplatform import labels
from dataplatform.errors import UserError
from dataplatform.interpolate import interpolate
from dataplatform.services.spec import Service

SERVICE_LABEL = "dataplatform.service"
HASH_LABEL = "dataplatform.config-hash"
_PORT = re.compile(r"^(?:(?P<ip>\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):)?(?:(?P<host>\d+):)?"
                   r"(?P<container>\d+)"
                   r"(?:/(?P<proto>tcp|udp))?$")


def container_name(namespace: str, service: str) -> str:
    return f"{namespace}-{service}"


def network_name(namespace: str) -> str:
    return f"{namespace}_default"


def volume_name(namespace: str, service: str, volume: str) -> str:
    return f"{namespace}_{service}_{volume}"


@dataclass(frozen=True)
class Port:
    container: int
    protocol: str
    host: int | None
    host_ip: str | None


@dataclass(frozen=True)
class Mount:
    source: str  # volume name, or absolute host path
    target: str
    read_only: bool
    named: bool  # a named volume (else a bind mount)


@dataclass
class DesiredContainer:
    service: Service
    name: str
    image: str
    image_id: str
    environment: dict[str, str]
    command: list[str] | str | None
    ports: list[Port]
    mounts: list[Mount]
    healthcheck: dict | None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def config_hash(self) -> str:
        return self.labels[HASH_LABEL]


def parse_port(text: str, where: str) -> Port:
    match = _PORT.match(text.strip())
    if not match:
        raise UserError(f"{where}: port {text!r} is not [IP:]HOST:CONTAINER[/PROTOCOL] — "
                        "e.g. 5432:5432")
    host = match.group("host")
    return Port(int(match.group("container")), match.group("proto") or "tcp",
                int(host) if host else None, (match.group("ip") or "").strip("[]") or None)


def parse_mount(text: str, namespace: str, service: str, root: Path, where: str) -> Mount:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/"):
        raise UserError(f"{where}: volume {text!r} is not SOURCE:/container/path[:ro] — e.g. "
                        "data:/var/lib/postgresql/data or ./dags:/opt/airflow/dags")
    source, target = parts[0], parts[1]
    read_only = len(parts) == 3 and parts[2] == "ro"
    if source.startswith((".", "/", "~")):
        path = (root / source).resolve() if not source.startswith("/") else Path(source)
        return Mount(str(path), target, read_only, named=False)
    return Mount(volume_name(namespace, service, source), target, read_only, named=True)


def healthcheck_config(service: Service) -> dict | None:
    check = service.healthcheck
    if check is None:
        return None
    nanos = 1_000_000_000
    return {"test": list(check.test), "interval": int(check.interval * nanos),
            "timeout": int(check.timeout * nanos), "retries": check.retries,
            "start_period": int(check.start_period * nanos)}


def desired(service: Service, namespace: str, image: str, image_id: str, root: Path,
            values: Mapping[str, str]) -> DesiredContainer:
    """Interpolate and assemble; raises a UserError (naming the service) on bad values."""
    where = f"{service.declared_in} (service {service.name})"

    def text(value: str) -> str:
        return interpolate(value, values, where)

    environment = {key: text(value) for key, value in service.environment}
    command = service.command
    if isinstance(command, str):
        command = text(command)
    elif command is not None:
        command = [text(part) for part in command]
    ports = [parse_port(text(p), where) for p in service.ports]
    mounts = [parse_mount(text(v), namespace, service.name, root, where)
              for v in service.volumes]
    health = healthcheck_config(service)
    if health:
        health["test"] = [text(part) for part in health["test"]]
    config = {
        "image_id": image_id, "environment": environment, "command": command,
        "ports": [p.__dict__ for p in ports], "mounts": [m.__dict__ for m in mounts],
        "healthcheck": health, "network": network_name(namespace),
        "stop_signal": service.stop_signal, "stop_grace_period": service.stop_grace_period,
    }
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    return DesiredContainer(
        service=service, name=container_name(namespace, service.name), image=image,
        image_id=image_id, environment=environment, command=command, ports=ports,
        mounts=mounts, healthcheck=health,
        labels={labels.PROJECT: namespace, SERVICE_LABEL: service.name, HASH_LABEL: digest,
                **stop_labels(service)},
    )


def stop_labels(service: Service) -> dict[str, str]:
    """What `down` reads from a container when services.yaml does not load (services/stop.py)."""
    found = {labels.DEPENDS_ON: ",".join(service.dependencies)}
    if service.stop_grace_period is not None:
        found[labels.STOP_GRACE] = f"{service.stop_grace_period:g}"
    return found
