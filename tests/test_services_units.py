"""The small rules under `invoke up`: durations, ${VAR} interpolation, ports, start order."""

from __future__ import annotations

import pytest

from dataplatform.errors import UserError
from dataplatform.interpolate import MissingVariable, interpolate
from dataplatform.services.desired import parse_port
from dataplatform.services.durations import parse_duration
from dataplatform.services.graph import Cycle, closure, start_order


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), (5, 5.0), ("1.5s", 1.5)],
)
def test_durations(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10", "s10", "10 s", "", "1m30", True])
def test_not_durations(text) -> None:
    assert parse_duration(text) is None


def test_interpolation_like_compose() -> None:
    values = {"SET": "v", "EMPTY": ""}
    assert (
        interpolate("${SET}/${EMPTY:-d1}/${EMPTY-d2}/${UNSET:-d3}/$SET/$$SET", values, "x")
        == "v/d1//d3/v/$SET"
    )
    with pytest.raises(MissingVariable, match=r"x: \$\{UNSET\} has no value"):
        interpolate("${UNSET}", values, "x")


@pytest.mark.parametrize(
    ("text", "host", "container", "ip"),
    [
        ("5432:5432", 5432, 5432, None),
        ("80", None, 80, None),
        ("127.0.0.1:8080:80", 8080, 80, "127.0.0.1"),
    ],
)
def test_ports(text, host, container, ip) -> None:
    port = parse_port(text, "x")
    assert (port.host, port.container, port.host_ip) == (host, container, ip)


def test_bad_port() -> None:
    with pytest.raises(UserError, match="is not"):
        parse_port("http:80", "x")


def test_start_order_and_cycles() -> None:
    edges = {"app": ["db", "init"], "init": ["db"], "db": [], "web": ["app"]}
    assert start_order(edges) == ["db", "init", "app", "web"]
    assert closure(edges, ["init"]) == {"init", "db"}
    with pytest.raises(Cycle) as info:
        start_order({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert str(info.value) == "a → b → c → a"


def test_restart_levels_follow_restart_true_dependents_transitively() -> None:
    """`invoke restart db`: db, then the running services declaring restart: true on it (or on
    one of those), each after the last of its restarting dependencies."""
    from dataplatform.services.spec import Service
    from dataplatform.services.stop import restart_levels

    def service(name: str, *deps: str, restart: tuple[str, ...] = ()) -> Service:
        return Service(
            name,
            "x:1",
            image="i",
            depends_on=tuple((d, "service_started") for d in deps),
            restart_deps=restart,
        )

    declared = {
        s.name: s
        for s in (
            service("db"),
            service("cache", "db", restart=("db",)),
            service("app", "db", "cache", restart=("db",)),
            service("worker", "app", restart=("app",)),
            service("side", "db"),
            service("stopped", "db", restart=("db",)),
        )
    }
    running = {"db", "cache", "app", "worker", "side"}
    assert restart_levels(declared, "db", running) == [["db"], ["cache"], ["app"], ["worker"]]
    assert restart_levels(declared, "app", running) == [["app"], ["worker"]]
    assert restart_levels(declared, "side", running) == [["side"]]
    assert restart_levels(None, "db", running) == [["db"]]  # services.yaml not loaded
