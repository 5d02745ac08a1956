"""One service as `invoke up` runs it: parsed and checked from `platform/services.yaml` or from
a service template, with every key taking effect and unknown keys rejected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataplatform.config.validate import check_keys, describe, expect, optional
from dataplatform.config.yamlsource import KeyPath, YamlDocument
from dataplatform.images.spec import ImageSpec, parse_build
from dataplatform.services.durations import parse_duration, signal_name

SERVICE_KEYS = (
    "template",
    "image",
    "build",
    "environment",
    "command",
    "ports",
    "volumes",
    "persistent",
    "depends_on",
    "healthcheck",
    "profiles",
    "stop_signal",
    "stop_grace_period",
    "kerberos",
)
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "retries", "start_period", "disable")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]  # ("CMD", ...) or ("CMD-SHELL", "...")
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class Service:
    """A service before `${VAR}` interpolation (which happens when it is started)."""

    name: str
    declared_in: str  # "file:line"
    image: str | None = None
    build: ImageSpec | None = None
    environment: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] | str | None = None
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    persistent: bool = False
    depends_on: tuple[tuple[str, str], ...] = ()  # (service, condition)
    healthcheck: HealthCheck | None = None
    profiles: tuple[str, ...] = ()
    template: str | None = None  # "postgres:16" when it came from a template
    stop_signal: str | None = None  # "SIGTERM"; None: the image's, else SIGTERM
    stop_grace_period: float | None = None  # seconds before SIGKILL; None: 10 s
    # depends_on options (compose semantics): `required: false` dependencies may be absent or
    # not selected (skipped with a note); `restart: true` ones restart this service when `up`
    # recreates or restarts them.
    optional_deps: tuple[str, ...] = ()
    restart_deps: tuple[str, ...] = ()
    # `kerberos: true`: the kerberos-sidecar's ticket cache mounted read-only, KRB5CCNAME and
    # KRB5_CONFIG set (dataplatform.kerberos.config says what and where)
    kerberos: bool = False

    @property
    def dependencies(self) -> list[str]:
        return [name for name, _ in self.depends_on]

    @property
    def required_dependencies(self) -> list[str]:
        return [name for name, _ in self.depends_on if name not in self.optional_deps]


def _scalar_text(doc: YamlDocument, keypath: KeyPath, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise doc.error(keypath, f"must be a string or number, got {describe(value)}")


def _string_list(doc: YamlDocument, keypath: KeyPath, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    expect(doc, keypath, value, list)
    return tuple(_scalar_text(doc, (*keypath, i), item) for i, item in enumerate(value))


def _environment(doc: YamlDocument, keypath: KeyPath, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        pairs = []
        for index, item in enumerate(value):
            text = _scalar_text(doc, (*keypath, index), item)
            key, sep, val = text.partition("=")
            if not sep or not key:
                raise doc.error((*keypath, index), f"{text!r} is not KEY=VALUE")
            pairs.append((key, val))
        return tuple(pairs)
    expect(doc, keypath, value, dict, "a mapping of NAME: value")
    return tuple(
        (str(k), "" if v is None else _scalar_text(doc, (*keypath, str(k)), v))
        for k, v in value.items()
    )


def _stop_signal(doc: YamlDocument, keypath: KeyPath, value: Any) -> str | None:
    if value is None:
        return None
    name = signal_name(value)
    if name is None:
        raise doc.error(
            keypath,
            f"{value!r} is not a signal",
            "write a name like SIGTERM, SIGINT, SIGQUIT or SIGUSR1",
        )
    return name


def _duration(doc: YamlDocument, keypath: KeyPath, value: Any, default: Any) -> Any:
    if value is None:
        return default
    seconds = parse_duration(value)
    if seconds is None:
        raise doc.error(
            keypath, f"{value!r} is not a duration", "write it like 500ms, 10s, 1m30s or 2h"
        )
    return seconds


def _healthcheck(doc: YamlDocument, keypath: KeyPath, value: Any) -> HealthCheck | None:
    expect(doc, keypath, value, dict)
    check_keys(doc, keypath, value, HEALTHCHECK_KEYS)
    if value.get("disable"):
        return None
    test = value.get("test")
    if isinstance(test, str):
        test_tuple: tuple[str, ...] = ("CMD-SHELL", test)
    else:
        test_tuple = _string_list(doc, (*keypath, "test"), test)
        if not test_tuple or test_tuple[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise doc.error(
                (*keypath, "test"),
                "must be a command string, or a list starting with CMD or CMD-SHELL",
            )
    retries = optional(doc, keypath, value, "retries", int, 3)
    return HealthCheck(
        test=test_tuple,
        interval=_duration(doc, (*keypath, "interval"), value.get("interval"), 30.0),
        timeout=_duration(doc, (*keypath, "timeout"), value.get("timeout"), 30.0),
        retries=retries,
        start_period=_duration(doc, (*keypath, "start_period"), value.get("start_period"), 0.0),
    )


DependsOn = tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]


def _depends_on(doc: YamlDocument, keypath: KeyPath, value: Any) -> DependsOn:
    """(service, condition) pairs, the optional (`required: false`) ones, the `restart: true`
    ones."""
    if value is None:
        return (), (), ()
    if isinstance(value, list):
        return (
            tuple(
                (_scalar_text(doc, (*keypath, i), v), "service_started")
                for i, v in enumerate(value)
            ),
            (),
            (),
        )
    expect(doc, keypath, value, dict, "a list of services, or service: {condition: ...}")
    pairs = []
    optional_names: list[str] = []
    restart_names: list[str] = []
    for name, spec in value.items():
        where = (*keypath, str(name))
        spec = spec or {}
        expect(doc, where, spec, dict)
        check_keys(doc, where, spec, ("condition", "restart", "required"))
        condition = optional(doc, where, spec, "condition", str, "service_started")
        if condition not in CONDITIONS:
            raise doc.error(
                (*where, "condition"),
                f"unknown condition {condition!r}",
                f"use one of {', '.join(CONDITIONS)}",
            )
        pairs.append((str(name), condition))
        if not optional(doc, where, spec, "required", bool, True):
            optional_names.append(str(name))
        if optional(doc, where, spec, "restart", bool, False):
            restart_names.append(str(name))
    return tuple(pairs), tuple(optional_names), tuple(restart_names)


def parse_service(
    doc: YamlDocument,
    keypath: KeyPath,
    name: str,
    body: dict,
    base_dir: Path,
    template: str | None = None,
) -> Service:
    """A service definition whose keys were already checked against SERVICE_KEYS."""
    sources = [k for k in ("image", "build") if body.get(k) is not None]
    if len(sources) != 1:
        raise doc.error(
            keypath,
            "give exactly one of template, image or build"
            if sources
            else "no image: give template, image or build",
        )
    image = optional(doc, keypath, body, "image", str, None)
    build = (
        parse_build(doc, (*keypath, "build"), body["build"], name, base_dir)
        if body.get("build") is not None
        else None
    )
    command = body.get("command")
    if command is not None and not isinstance(command, str):
        command = _string_list(doc, (*keypath, "command"), command)
    healthcheck = body.get("healthcheck")
    depends_on, optional_deps, restart_deps = _depends_on(
        doc, (*keypath, "depends_on"), body.get("depends_on")
    )
    return Service(
        name=name,
        declared_in=f"{doc.display}:{doc.line(keypath)}",
        image=image,
        build=build,
        environment=_environment(doc, (*keypath, "environment"), body.get("environment")),
        command=command,
        ports=_string_list(doc, (*keypath, "ports"), body.get("ports")),
        volumes=_string_list(doc, (*keypath, "volumes"), body.get("volumes")),
        persistent=optional(doc, keypath, body, "persistent", bool, False),
        depends_on=depends_on,
        optional_deps=optional_deps,
        restart_deps=restart_deps,
        healthcheck=_healthcheck(doc, (*keypath, "healthcheck"), healthcheck)
        if healthcheck is not None
        else None,
        profiles=_string_list(doc, (*keypath, "profiles"), body.get("profiles")),
        template=template,
        stop_signal=_stop_signal(doc, (*keypath, "stop_signal"), body.get("stop_signal")),
        stop_grace_period=_duration(
            doc, (*keypath, "stop_grace_period"), body.get("stop_grace_period"), None
        ),
        kerberos=optional(doc, keypath, body, "kerberos", bool, False),
    )
