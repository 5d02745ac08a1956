"""The convergence planner of `up` (services/plan.py), a pure function: every decision, with
no engine. Observed state is written as the engine's container list would give it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from dataplatform.services.desired import HASH_EXCLUDES, desired
from dataplatform.services.execute import readiness
from dataplatform.services.manifest import Volume
from dataplatform.services.observe import (
    Observed,
    ObservedContainer,
    container_from_summary,
    from_listings,
    image_key,
)
from dataplatform.services.plan import Plan, Want, plan
from dataplatform.services.spec import HealthCheck, Service
from dataplatform.services.volumes import problems, to_remove

NS = "ns"


def want(name: str, **fields) -> Want:
    return Want(
        **{
            "name": name,
            "container": f"{NS}-{name}",
            "config_hash": f"h-{name}",
            "image_id": "sha256:img",
            **fields,
        }
    )


def seen(name: str, state: str = "running", **fields) -> ObservedContainer:
    return ObservedContainer(
        **{
            "id": f"id-{name}",
            "name": f"{NS}-{name}",
            "namespace": NS,
            "service": name,
            "state": state,
            "config_hash": f"h-{name}",
            "image_id": "sha256:img",
            **fields,
        }
    )


def observed(
    *containers: ObservedContainer, others: tuple[ObservedContainer, ...] = ()
) -> Observed:
    return Observed(NS, {c.service: c for c in containers}, {c.name: c for c in others})


def kinds(made: Plan, service: str | None = None) -> list[str]:
    return [s.kind for s in made.steps if service is None or s.target == service]


def step(made: Plan, kind: str, target: str) -> int:
    return next(i for i, s in enumerate(made.steps) if s.kind == kind and s.target == target)


def test_everything_running_and_healthy_is_a_plan_without_steps() -> None:
    made = plan(
        [want("db", healthcheck=True, long_running=True), want("app")],
        observed(seen("db", health="healthy"), seen("app")),
    )
    assert made.decisions == {"db": "keep", "app": "keep"}
    assert made.is_noop


def test_a_missing_container_is_created_after_network_and_volumes_then_waited_for() -> None:
    made = plan([want("db", healthcheck=True, volumes=("ns_data",))], observed(), "ns_default")
    assert made.decisions == {"db": "create"}
    assert kinds(made) == ["network", "volume", "create", "start", "wait"]
    create = step(made, "create", "db")
    assert set(made.steps[create].after) == {
        step(made, "network", "ns_default"),
        step(made, "volume", "ns_data"),
    }
    assert made.steps[step(made, "wait", "db")].detail == "healthy"


def test_a_shared_volume_is_one_step_for_every_service_mounting_it() -> None:
    made = plan(
        [want("db", volumes=("ns_data",)), want("migrate", volumes=("ns_data",))], observed()
    )
    assert kinds(made).count("volume") == 1
    volume = step(made, "volume", "ns_data")
    assert all(volume in made.steps[step(made, "create", s)].after for s in ("db", "migrate"))


def test_a_changed_config_hash_recreates_and_says_why() -> None:
    made = plan([want("app", config_hash="new")], observed(seen("app")))
    assert made.decisions == {"app": "recreate"}
    assert made.reasons["app"] == "configuration changed"
    assert kinds(made, "app") == ["remove", "create", "start", "wait"]
    assert step(made, "remove", "app") in made.steps[step(made, "create", "app")].after


def test_a_changed_image_recreates_and_says_so() -> None:
    made = plan([want("app", config_hash="new", image_id="sha256:newer")], observed(seen("app")))
    assert made.reasons["app"] == "image changed"


def test_a_crashed_or_created_container_with_the_same_config_is_started() -> None:
    made = plan(
        [want("db", long_running=True), want("web")],
        observed(seen("db", "exited", exit_code=137), seen("web", "created")),
    )
    assert made.decisions == {"db": "start", "web": "start"}
    assert made.reasons["db"] == "exited with code 137"
    assert kinds(made, "db") == ["start", "wait"]


def test_a_server_that_exited_0_is_started_again() -> None:
    made = plan(
        [want("db", healthcheck=True, long_running=True)],
        observed(seen("db", "exited", exit_code=0)),
    )
    assert made.decisions == {"db": "start"}


@pytest.mark.parametrize("waited_on", [False, True])
def test_a_job_that_exited_0_with_the_same_config_stays_completed(waited_on: bool) -> None:
    wants = [want("init")]
    if waited_on:
        wants.append(want("app", depends_on=(("init", "service_completed_successfully"),)))
    made = plan(wants, observed(seen("init", "exited", exit_code=0), seen("app")))
    assert made.decisions["init"] == "completed"
    assert made.is_noop


def test_a_job_whose_config_changed_runs_again_and_its_dependents_wait_for_it() -> None:
    made = plan(
        [
            want("init", config_hash="new"),
            want("app", depends_on=(("init", "service_completed_successfully"),)),
        ],
        observed(seen("init", "exited", exit_code=0), seen("app")),
    )
    assert made.decisions == {"init": "recreate", "app": "keep"}
    assert made.steps[step(made, "wait", "init")].detail == "completed"


def test_a_dependent_starts_only_after_its_dependency_meets_the_condition() -> None:
    made = plan(
        [
            want("db", healthcheck=True),
            want("init", depends_on=(("db", "service_healthy"),)),
            want(
                "app",
                depends_on=(("db", "service_started"), ("init", "service_completed_successfully")),
            ),
        ],
        observed(),
    )
    assert step(made, "wait", "db") in made.steps[step(made, "create", "init")].after
    app = made.steps[step(made, "create", "app")].after
    assert step(made, "start", "db") in app and step(made, "wait", "init") in app
    assert step(made, "wait", "db") not in app  # service_started does not wait for health


def test_a_kept_dependency_that_is_ready_gates_nothing() -> None:
    made = plan(
        [want("db", healthcheck=True), want("app", depends_on=(("db", "service_healthy"),))],
        observed(seen("db", health="healthy")),
    )
    assert kinds(made) == ["network", "create", "start", "wait"]
    assert made.steps[step(made, "create", "app")].after == (step(made, "network", ""),)


def test_a_kept_dependency_still_starting_is_waited_for() -> None:
    made = plan(
        [want("db", healthcheck=True), want("app", depends_on=(("db", "service_healthy"),))],
        observed(seen("db", health="starting")),
    )
    assert made.decisions["db"] == "keep"
    assert step(made, "wait", "db") in made.steps[step(made, "create", "app")].after


def test_a_dependency_that_is_not_selected_is_not_waited_for() -> None:
    made = plan([want("app", depends_on=(("cache", "service_healthy"),))], observed())
    assert made.decisions == {"app": "create"}
    assert kinds(made) == ["network", "create", "start", "wait"]


def test_restart_true_restarts_a_kept_dependent_when_its_dependency_is_recreated() -> None:
    made = plan(
        [
            want("db", config_hash="new"),
            want("app", depends_on=(("db", "service_started"),), restart_deps=("db",)),
            want("other", depends_on=(("db", "service_started"),)),
        ],
        observed(seen("db"), seen("app"), seen("other")),
    )
    assert made.decisions == {"db": "recreate", "app": "restart", "other": "keep"}
    assert made.reasons["app"] == "dependency db is recreated"
    stop = step(made, "stop", "app")
    assert stop in made.steps[step(made, "remove", "db")].after  # stopped before db goes
    assert step(made, "start", "db") in made.steps[step(made, "start", "app")].after
    assert kinds(made, "other") == []


def test_restart_true_does_nothing_when_the_dependency_is_kept() -> None:
    made = plan(
        [want("db"), want("app", restart_deps=("db",), depends_on=(("db", "service_started"),))],
        observed(seen("db"), seen("app")),
    )
    assert made.is_noop


def test_restart_true_reruns_a_completed_job_when_its_dependency_is_started() -> None:
    made = plan(
        [
            want("db", long_running=True),
            want("seed", depends_on=(("db", "service_started"),), restart_deps=("db",)),
        ],
        observed(seen("db", "exited", exit_code=137), seen("seed", "exited", exit_code=0)),
    )
    assert made.decisions == {"db": "start", "seed": "restart"}
    assert made.reasons["seed"] == "dependency db is started"


def test_a_foreign_container_holding_our_name_is_a_conflict_and_nothing_is_planned() -> None:
    stranger = ObservedContainer("abcdef1234567890", f"{NS}-db", None, None, "running")
    made = plan([want("db"), want("app")], observed(others=(stranger,)))
    assert made.steps == ()
    assert made.conflicts == (
        "service db: the container name ns-db is taken by container ns-db (abcdef123456, not "
        "made by invoke up) — remove or rename that container, or change the namespace in "
        "services.yaml",
    )


def test_our_own_container_under_our_name_is_no_conflict() -> None:
    made = plan([want("db", config_hash="new")], observed(seen("db")))
    assert made.conflicts == ()


def test_the_engine_list_is_read_into_plain_data() -> None:
    summaries = [
        {
            "Id": "a" * 64,
            "Names": ["/ns-db"],
            "State": "running",
            "Status": "Up 3 minutes (healthy)",
            "ImageID": "sha256:1",
            "Labels": {
                "dataplatform.project": NS,
                "dataplatform.service": "db",
                "dataplatform.config-hash": "h",
            },
            "Ports": [
                {"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "::"},
            ],
        },
        {
            "Id": "b" * 64,
            "Names": ["/ns-init"],
            "State": "exited",
            "Status": "Exited (3) 5 seconds ago",
            "Labels": {"dataplatform.project": NS, "dataplatform.service": "init"},
        },
        {
            "Id": "c" * 64,
            "Names": ["/ns-app"],
            "State": "running",
            "Status": "Up 1 second",
            "Labels": {},
        },
    ]
    found = from_listings(
        NS,
        summaries,
        [
            {
                "Id": "sha256:9",
                "RepoTags": ["busybox:latest"],
                "Labels": {"dataplatform.fingerprint": "f"},
            }
        ],
    )
    assert found.ours["db"].health == "healthy" and found.ours["db"].host_ports == (8080,)
    assert found.ours["init"].exit_code == 3 and found.ours["init"].state == "exited"
    assert set(found.others) == {"ns-app"} and found.others["ns-app"].namespace is None
    assert found.port_holder(8080) is found.ours["db"]
    assert found.images == {"busybox:latest": "sha256:9"}
    assert found.fingerprints == {"busybox:latest": "f"}
    starting = container_from_summary(
        {"State": "running", "Status": "Up 2 seconds (health: starting)"}
    )
    assert starting.health == "starting"
    assert image_key("busybox") == "busybox:latest"
    assert image_key("127.0.0.1:5000/team/x") == "127.0.0.1:5000/team/x:latest"
    assert image_key("postgres:16") == "postgres:16"


def test_down_keeps_what_services_yaml_declares_persistent_now_else_what_the_label_says() -> None:
    def volume(name: str, **found: str) -> dict:
        return {"Name": name, "Labels": {"dataplatform.project": NS, **found}}

    listed = [
        volume("ns_data", **{"dataplatform.volume": "data", "dataplatform.persistent": "false"}),
        volume("ns_db_own", **{"dataplatform.service": "db", "dataplatform.persistent": "false"}),
        volume("ns_gone", **{"dataplatform.volume": "gone", "dataplatform.persistent": "true"}),
        volume("ns_tmp", **{"dataplatform.volume": "tmp", "dataplatform.persistent": "false"}),
        {"Name": "theirs", "Labels": {"dataplatform.project": "other"}},
    ]
    declared = {"data": SimpleNamespace(persistent=True)}
    services = {"db": SimpleNamespace(persistent=True)}
    assert to_remove(listed, NS, False, declared, services) == ["ns_tmp"]
    assert to_remove(listed, NS, False, None, None) == ["ns_data", "ns_db_own", "ns_tmp"]
    assert to_remove(listed, NS, True, declared, services) == [
        "ns_data",
        "ns_db_own",
        "ns_gone",
        "ns_tmp",
    ]


def _hash(**changes) -> str:
    base = Service(
        name="db",
        declared_in="platform/services.yaml:3",
        image="busybox",
        environment=(("A", "${A}"),),
        command=("sleep", "60"),
        healthcheck=HealthCheck(("CMD", "true")),
    )
    service = dataclasses.replace(base, **changes)
    return desired(service, NS, "busybox:latest", "sha256:1", Path("/r"), {"A": "1"}).config_hash


def test_the_config_hash_covers_the_whole_service_but_the_excluded_fields() -> None:
    same = _hash()
    assert _hash() == same
    # fields that do not shape the container: no recreation
    assert (
        _hash(
            profiles=("x",),
            depends_on=(("a", "service_started"),),
            restart_deps=("a",),
            optional_deps=("a",),
            declared_in="elsewhere:9",
            template="postgres:16",
        )
        == same
    )
    # every other field does, including ones the hash code never names (stop_signal)
    assert _hash(stop_signal="SIGINT") != same
    assert _hash(stop_grace_period=3.0) != same
    assert _hash(command=("sleep", "61")) != same
    assert _hash(ports=("8080:80",)) != same
    # and a field added to the schema is covered unless someone excludes it on purpose
    covered = {f.name for f in dataclasses.fields(Service)} - HASH_EXCLUDES
    assert {
        "image",
        "environment",
        "command",
        "ports",
        "volumes",
        "healthcheck",
        "stop_signal",
        "stop_grace_period",
    } <= covered


def test_the_config_hash_follows_interpolated_values() -> None:
    service = Service(name="db", declared_in="f:1", image="busybox", environment=(("A", "${A}"),))
    one = desired(service, NS, "busybox:latest", "sha256:1", Path("/r"), {"A": "1"})
    two = desired(service, NS, "busybox:latest", "sha256:1", Path("/r"), {"A": "2"})
    newer_image = desired(service, NS, "busybox:latest", "sha256:2", Path("/r"), {"A": "1"})
    assert len({one.config_hash, two.config_hash, newer_image.config_hash}) == 3


def test_a_mount_of_a_top_level_volume_is_the_shared_volume_else_the_services_own() -> None:
    service = Service(
        name="db",
        declared_in="f:1",
        image="busybox",
        persistent=True,
        volumes=("data:/data", "own:/own:ro", "./conf:/conf", "ext:/ext", "named:/named"),
    )
    made = desired(
        service,
        NS,
        "busybox",
        "sha256:1",
        Path("/r"),
        {},
        {
            "data": Volume("data"),
            "ext": Volume("ext", external=True),
            "named": Volume("named", persistent=True, name="exact"),
        },
    )
    assert [(m.source, m.named, m.read_only) for m in made.mounts] == [
        ("ns_data", True, False),
        ("ns_db_own", True, True),
        ("/r/conf", False, False),
        ("ext", True, False),
        ("exact", True, False),
    ]
    assert [v.key for v in made.volumes] == ["data", "own", "named"]
    assert [(v.name, dict(v.labels)) for v in made.volumes] == [
        (
            "ns_data",
            {
                "dataplatform.project": NS,
                "dataplatform.persistent": "false",
                "dataplatform.volume": "data",
            },
        ),
        (
            "ns_db_own",
            {
                "dataplatform.project": NS,
                "dataplatform.persistent": "true",
                "dataplatform.service": "db",
            },
        ),
        (
            "exact",
            {
                "dataplatform.project": NS,
                "dataplatform.persistent": "true",
                "dataplatform.volume": "named",
            },
        ),
    ]
    assert made.external_volumes == ("ext",)  # used as it is: never created or labelled
    assert Volume("ext", external=True, name="theirs").engine_name(NS) == "theirs"


def test_volume_problems_name_foreign_volumes_and_missing_external_ones() -> None:
    """Before anything starts: a volume `up` would create that exists without this
    namespace's label, and an external one that does not exist, each one line."""
    ours = {"Labels": {"dataplatform.project": NS}}
    found = {
        "ns_ours": ours,
        "ns_bare": {"Labels": None},
        "ns_other": {"Labels": {"dataplatform.project": "other"}},
        "ext_here": {"Labels": {}},
        "ns_new": None,
        "ext_gone": None,
    }
    lines = problems(
        {
            "ns_ours": ("a", "ours"),
            "ns_bare": ("b", "bare"),
            "ns_other": ("c", "other"),
            "ns_new": ("d", "new"),
        },
        {"ext_here": "f:3", "ext_gone": "f:4"},
        found,
        NS,
        "f",
    )
    assert lines == [
        "volume ns_bare for service b already exists and is not made by invoke up — remove it "
        "(docker volume rm ns_bare) if its data is not needed, or use it as it is: declare "
        "`bare: {external: true, name: ns_bare}` under the top-level volumes: of f",
        "volume ns_other for service c already exists and is made for namespace other — "
        "remove it (docker volume rm ns_other) if its data is not needed, or use it as it is: "
        "declare `other: {external: true, name: ns_other}` under the top-level volumes: of f",
        "volume ext_gone is declared external: true (f:4) but the engine has no such volume — "
        "create it (docker volume create ext_gone), or remove external: true so up creates it",
    ]
    assert problems({"ns_ours": ("a", "ours")}, {}, found, NS, "f") == []


@pytest.mark.parametrize(
    ("state", "fields", "condition", "expected"),
    [
        ("exited", {"exit_code": 0}, "completed", ("ready", "completed")),
        ("exited", {"exit_code": 0}, "healthy", ("failed", "exited with code 0")),
        ("exited", {"exit_code": 3}, "completed", ("failed", "exited with code 3")),
        ("running", {}, "completed", ("waiting", "running (a job others wait for)")),
        ("running", {"health": "starting"}, "healthy", ("waiting", "health: starting")),
        ("running", {"health": "healthy"}, "healthy", ("ready", "healthy")),
        ("running", {"health": "unhealthy"}, "healthy", ("failed", "unhealthy")),
        ("running", {"health": "starting"}, "running", ("ready", "running")),
        ("created", {}, "running", ("waiting", "created")),
    ],
)
def test_readiness_of_a_wait_step(
    state: str, fields: dict, condition: str, expected: tuple[str, str]
) -> None:
    service = Service(
        name="db", declared_in="f:1", image="busybox", healthcheck=HealthCheck(("CMD", "true"))
    )
    want = desired(service, NS, "busybox", "sha256:1", Path("/r"), {})
    assert readiness(seen("db", state, **fields), want, condition) == expected
    assert readiness(None, want, condition) == ("failed", "its container disappeared")
