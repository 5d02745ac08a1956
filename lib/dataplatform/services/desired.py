"""What a service's container should look like: names, interpolated settings, the volumes it
mounts, and the config hash that `up` compares with the label on a container to keep or
recreate it (the idea of docker compose's convergence).

The hash is computed by exclusion, like compose's `ServiceHash`: the whole service definition,
interpolated, minus the fields in `HASH_EXCLUDES` (those that do not shape the container). A key
added to the schema therefore recreates containers by default when its value changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataplatform import labels
from dataplatform.errors import UserError
from dataplatform.interpolate import interpolate
from dataplatform.services.spec import Service

SERVICE_LABEL = labels.SERVICE  # kept for callers that import them from here
HASH_LABEL = labels.CONFIG_HASH
# Fields of `Service` that do not shape its container: where it was declared, how its image is
# built (the image reference and ID stand for it), its place in the graph, and per-service
# volume persistence (a volume label, not container config).
HASH_EXCLUDES = frozenset(
    {
        "declared_in",
        "template",
        "build",
        "depends_on",
        "optional_deps",
        "restart_deps",
        "profiles",
        "persistent",
    }
)
_PORT = re.compile(
    r"^(?:(?P<ip>\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):)?(?:(?P<host>\d+):)?"
    r"(?P<container>\d+)"
    r"(?:/(?P<proto>tcp|udp))?$"
)


def container_name(namespace: str, service: str) -> str:
    return f"{namespace}-{service}"


def network_name(namespace: str) -> str:
    return f"{namespace}_default"


def volume_name(namespace: str, service: str, volume: str) -> str:
    """A per-service volume: `data:/x` in a service, `data` not declared under `volumes:`."""
    return f"{namespace}_{service}_{volume}"


def shared_volume_name(namespace: str, key: str) -> str:
    """A top-level volume, shared by every service that mounts it (compose's naming)."""
    return f"{namespace}_{key}"


def volume_labels(
    namespace: str, persistent: bool, service: str | None = None, key: str | None = None
) -> dict[str, str]:
    found = {labels.PROJECT: namespace, labels.PERSISTENT: str(persistent).lower()}
    if service is not None:
        found[labels.SERVICE] = service
    if key is not None:
        found[labels.VOLUME] = key
    return found


@dataclass(frozen=True)
class VolumeSpec:
    """A named volume `up` creates (with these labels) when it does not exist."""

    name: str
    labels: tuple[tuple[str, str], ...]
    key: str = ""  # its name in services.yaml (`data` of `data:/path`)


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
    volumes: tuple[VolumeSpec, ...] = ()  # named volumes `up` creates when missing
    external_volumes: tuple[str, ...] = ()  # `external: true` ones: must exist, never made

    @property
    def config_hash(self) -> str:
        return self.labels[HASH_LABEL]


def parse_port(text: str, where: str) -> Port:
    match = _PORT.match(text.strip())
    if not match:
        raise UserError(
            f"{where}: port {text!r} is not [IP:]HOST:CONTAINER[/PROTOCOL] — e.g. 5432:5432"
        )
    host = match.group("host")
    return Port(
        int(match.group("container")),
        match.group("proto") or "tcp",
        int(host) if host else None,
        (match.group("ip") or "").strip("[]") or None,
    )


def parse_mount(
    text: str, namespace: str, service: str, root: Path, where: str, shared: Mapping[str, Any] = {}
) -> Mount:
    """`shared`: the top-level volumes by key (manifest `Volume`s); a named source among them
    is that volume (by its engine name: `<ns>_<key>`, its `name:`, or an external one's),
    any other is the service's own."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/"):
        raise UserError(
            f"{where}: volume {text!r} is not SOURCE:/container/path[:ro] — e.g. "
            "data:/var/lib/postgresql/data or ./dags:/opt/airflow/dags"
        )
    source, target = parts[0], parts[1]
    read_only = len(parts) == 3 and parts[2] == "ro"
    if source.startswith((".", "/", "~")):
        path = (root / source).resolve() if not source.startswith("/") else Path(source)
        return Mount(str(path), target, read_only, named=False)
    name = (
        shared[source].engine_name(namespace)
        if source in shared
        else volume_name(namespace, service, source)
    )
    return Mount(name, target, read_only, named=True)


def mount_volumes(
    service: Service, namespace: str, mounts: list[Mount], shared: Mapping[str, Any]
) -> tuple[tuple[VolumeSpec, ...], tuple[str, ...]]:
    """The named volumes behind `mounts`: those `up` creates, with the labels they are created
    with; and the external ones (used as they are; they must exist)."""
    found = []
    external = []
    for text, mount in zip(service.volumes, mounts, strict=True):
        if not mount.named:
            continue
        key = text.split(":", 1)[0]
        volume = shared.get(key)
        if volume is not None and mount.source == volume.engine_name(namespace):
            if volume.external:
                external.append(mount.source)
                continue
            made = volume_labels(namespace, volume.persistent, key=key)
        else:
            made = volume_labels(namespace, service.persistent, service=service.name)
        found.append(VolumeSpec(mount.source, tuple(sorted(made.items())), key))
    return tuple(found), tuple(external)


def config_hash(service: Service, resolved: Mapping[str, Any]) -> str:
    """sha256 of the service definition minus HASH_EXCLUDES, with `resolved` (interpolated
    values, the image) in place of the raw fields of the same name."""
    config: dict[str, Any] = {}
    for item in dataclasses.fields(service):
        if item.name not in HASH_EXCLUDES:
            value = getattr(service, item.name)
            config[item.name] = (
                dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
            )
    config.update(resolved)
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def healthcheck_config(service: Service) -> dict | None:
    check = service.healthcheck
    if check is None:
        return None
    nanos = 1_000_000_000
    return {
        "test": list(check.test),
        "interval": int(check.interval * nanos),
        "timeout": int(check.timeout * nanos),
        "retries": check.retries,
        "start_period": int(check.start_period * nanos),
    }


def desired(
    service: Service,
    namespace: str,
    image: str,
    image_id: str,
    root: Path,
    values: Mapping[str, str],
    shared: Mapping[str, Any] = {},
) -> DesiredContainer:
    """Interpolate and assemble; raises a UserError (naming the service) on bad values.
    `shared`: the manifest's top-level volumes."""
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
    mounts = [
        parse_mount(text(v), namespace, service.name, root, where, shared) for v in service.volumes
    ]
    volumes, external = mount_volumes(service, namespace, mounts, shared)
    health = healthcheck_config(service)
    if health:
        health["test"] = [text(part) for part in health["test"]]
    digest = config_hash(
        service,
        {
            "image": image,
            "image_id": image_id,
            "environment": environment,
            "command": command,
            "ports": [p.__dict__ for p in ports],
            "volumes": [m.__dict__ for m in mounts],
            "healthcheck": health,
            "network": network_name(namespace),
        },
    )
    return DesiredContainer(
        service=service,
        name=container_name(namespace, service.name),
        image=image,
        image_id=image_id,
        environment=environment,
        command=command,
        ports=ports,
        mounts=mounts,
        healthcheck=health,
        labels={
            labels.PROJECT: namespace,
            labels.SERVICE: service.name,
            labels.CONFIG_HASH: digest,
            **stop_labels(service),
        },
        volumes=volumes,
        external_volumes=external,
    )


def stop_labels(service: Service) -> dict[str, str]:
    """What `down` reads from a container when services.yaml does not load (services/stop.py)."""
    found = {labels.DEPENDS_ON: ",".join(service.dependencies)}
    if service.stop_grace_period is not None:
        found[labels.STOP_GRACE] = f"{service.stop_grace_period:g}"
    return found
