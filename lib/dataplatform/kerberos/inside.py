"""`invoke kerberos.test-login` from inside the platform: a throwaway client container of the
kerberos-sidecar's own image, on the stack's network, with the sidecar's ticket cache mounted
read-only and KRB5CCNAME/KRB5_CONFIG set as for any `kerberos: true` service, runs
`sidecar.py login` (psql, GSSAPI encryption required) against a service by its in-network name
and port. The container carries the project label and is removed by the engine when it ends.

`choose` picks where the login runs from, `client_spec` says which container (pure, so the
tests check it without an engine), `observe` and `run` are the engine part. Its output is
explained by `diagnose.psql_result`, the same diagnosis as the workstation's login.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from dataplatform import labels
from dataplatform.errors import UserError
from dataplatform.kerberos import config

PLATFORM, HOST = "platform", "host"
SOURCES = (PLATFORM, HOST)
SCRIPT = "/opt/kerberos/sidecar.py"  # where the kerberos-sidecar image has it (its Dockerfile)
CLIENT = "kerberos-test-login"  # the client container's name: <namespace>-<CLIENT>-<random>
DEFAULT_PORT = 5432  # a PostgreSQL service that declares no port
RUN_TIMEOUT_S = 120  # a bound on the whole client run (libpq's own connect_timeout is 10 s)


@dataclass(frozen=True)
class Target:
    """Where the login goes and as whom (`user` None: the ticket's principal decides)."""

    service: str
    host: str
    port: int
    dbname: str = "postgres"
    krbsrvname: str = "postgres"
    user: str | None = None

    @property
    def spn(self) -> str:
        """The server principal libpq asks the KDC for (without realm)."""
        return f"{self.krbsrvname}/{self.host}"


@dataclass(frozen=True)
class ClientSpec:
    """The client container: everything `run` hands the engine."""

    name: str
    image: str
    command: tuple[str, ...]
    environment: dict[str, str]
    network: str
    volume: str  # the shared cache volume, mounted read-only at config.MOUNT
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stack:
    """What of the platform runs: the first running sidecar (its service, image ID and the
    volume it keeps the cache in) and every running service."""

    sidecar: str | None
    image: str | None
    running: frozenset[str]
    cache_volume: str | None = None


def choose(requested: str | None, sidecar_running: bool) -> str:
    """`--from`: as asked; by default inside the platform when its sidecar runs (that is where
    services log in), else from this workstation."""
    if requested is None or requested == "":
        return PLATFORM if sidecar_running else HOST
    if requested not in SOURCES:
        raise UserError(
            f"--from {requested!r} is not a place to log in from",
            "use --from platform (a client container inside the platform) or "
            "--from host (this workstation)",
        )
    return requested


def client_spec(
    namespace: str, image: str, target: Target, volume: str | None = None, suffix: str | None = None
) -> ClientSpec:
    """`volume`: the volume the sidecar mounts at config.MOUNT (default: the namespace's
    shared kerberos-cache volume)."""
    from dataplatform.services.desired import network_name, shared_volume_name

    command = [
        "python3",
        SCRIPT,
        "login",
        "--host",
        target.host,
        "--port",
        str(target.port),
        "--dbname",
        target.dbname,
        "--krbsrvname",
        target.krbsrvname,
    ]
    if target.user:
        command += ["--user", target.user]
    return ClientSpec(
        name=f"{namespace}-{CLIENT}-{suffix or uuid.uuid4().hex[:8]}",
        image=image,
        command=tuple(command),
        environment=dict(config.consumer_environment()),
        network=network_name(namespace),
        volume=volume or shared_volume_name(namespace, config.CACHE_VOLUME),
        labels={labels.PROJECT: namespace},
    )


def observe(namespace: str, sidecars: list[str]) -> Stack:
    """Our containers on the engine (one listing, plain HTTP): which run, and the image and
    cache volume of the first running sidecar of `sidecars`."""
    from dataplatform.services import found

    containers = found.containers(namespace)
    running = frozenset(name for name, c in containers.items() if c.running)
    sidecar = next((name for name in sidecars if name in running), None)
    if sidecar is None:
        return Stack(None, None, running)
    attrs = containers[sidecar].attrs
    volume = next(
        (
            m.get("Name")
            for m in attrs.get("Mounts") or []
            if m.get("Destination") == config.MOUNT and m.get("Type") == "volume"
        ),
        None,
    )
    return Stack(sidecar, attrs.get("Image"), running, volume)


def run(api: Any, spec: ClientSpec, timeout: float = RUN_TIMEOUT_S) -> tuple[str, str]:
    """Run the client container to its end: (stdout, stderr). Its output is attached before it
    starts, so nothing is lost when the engine removes it (auto-remove) as it exits; it is
    removed here too when it outlives `timeout` or anything goes wrong on the way."""
    import contextlib
    import threading

    import docker.errors
    import docker.types

    host_config = api.create_host_config(
        auto_remove=True,
        mounts=[docker.types.Mount(config.MOUNT, spec.volume, type="volume", read_only=True)],
    )
    networking = api.create_networking_config({spec.network: api.create_endpoint_config()})
    created = api.create_container(
        spec.image,
        command=list(spec.command),
        name=spec.name,
        environment=spec.environment,
        labels=spec.labels,
        host_config=host_config,
        networking_config=networking,
        detach=True,
    )
    identifier = created["Id"]
    expired = threading.Event()

    def remove() -> None:
        # already removed by the engine (auto-remove), or being removed: nothing to do
        with contextlib.suppress(docker.errors.APIError):
            api.remove_container(identifier, force=True)

    def expire() -> None:
        expired.set()
        remove()  # ends the attached stream

    out: list[bytes] = []
    err: list[bytes] = []
    timer = threading.Timer(timeout, expire)
    try:
        stream = api.attach(
            identifier, stdout=True, stderr=True, stream=True, logs=True, demux=True
        )
        api.start(identifier)
        timer.start()
        for chunk_out, chunk_err in stream:
            out.append(chunk_out or b"")
            err.append(chunk_err or b"")
    finally:
        timer.cancel()
        remove()
    if expired.is_set():
        raise UserError(
            f"the login client {spec.name} gave no answer within {timeout:g} s",
            "check the service and the KDC: invoke status, invoke logs",
        )
    return (b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace"))
