"""`invoke cache.status` and `invoke cache.clean` on a real engine: only this project's
superseded, unused, old-enough images are ever removed. The age parsing and removal rules are
pure functions, tested without an engine (no `docker` marker)."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dataplatform.errors import UserError
from dataplatform.images import housekeeping
from support import TempProject, executed, image_project, repository_tags, unique_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert housekeeping.parse_age(text) == expected


@pytest.mark.parametrize("text", ["7", "d7", "7y", "", "-1d"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(UserError, match="is not a duration"):
        housekeeping.parse_age(text)


def record(current: bool | None, age_days: float, used_by: list[str] | None = None):
    now = datetime(2026, 1, 10, tzinfo=UTC)
    return housekeeping.ImageRecord(
        "sha256:x",
        "app",
        "f" * 64,
        ["app:fp-x"],
        1,
        now - timedelta(days=age_days),
        current,
        used_by or [],
    )


def test_removable_rules() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    week = timedelta(days=7)
    assert housekeeping.removable([record(False, 8)], week, now)
    assert not housekeeping.removable([record(False, 6)], week, now)  # too young
    assert not housekeeping.removable([record(True, 30)], week, now)  # current
    assert not housekeeping.removable([record(None, 30)], week, now)  # unknown: kept
    assert not housekeeping.removable([record(False, 30, ["job"])], week, now)  # in use


@pytest.mark.docker
def test_status_and_clean(project: TempProject, busybox_image: str, docker_client) -> None:
    name = unique_name()
    image_project(project, busybox_image, [name])
    util = project.root / "platform/images" / name / "lib/util.py"
    for version in ("1", "2", "3"):
        util.write_text(f"X = {version}\n")
        done = project.doit()
        assert done.returncode == 0, done.stdout + done.stderr
    tags = repository_tags(docker_client, name)
    assert len(tags) == 3

    status = project.invoke("cache.status")
    assert status.returncode == 0, status.stderr
    rows = [line for line in status.stdout.splitlines() if name in line]
    assert len(rows) == 3
    assert sum("✓" in row for row in rows) == 1
    assert "2 superseded" in status.stdout

    # one superseded image is used by a (stopped) container: it must survive
    current = next(t for t in tags if f"fp-{_current_short(project, name)}" in t)
    superseded = [t for t in tags if t != current]
    container = docker_client.api.create_container(
        superseded[0], command="true", labels={"purpose": "test"}
    )
    # a look-alike image of another namespace and an unlabelled image must survive too
    docker_client.api.tag(busybox_image, "unlabelled-" + name, "keep")
    foreign, _ = docker_client.images.build(
        fileobj=io.BytesIO(f"FROM {busybox_image}\nLABEL other=1\n".encode()),
        tag=f"{name}:fp-0000000000000000",
        rm=True,
        labels={
            "dataplatform.project": "someone-else",
            "dataplatform.image": name,
            "dataplatform.fingerprint": "0" * 64,
        },
    )
    try:
        young = project.invoke("cache.clean")  # default 7d: everything is younger
        assert young.returncode == 0 and "nothing to clean" in young.stdout

        dry = project.invoke("cache.clean", "--older-than", "0s", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would remove {name} fp-" in dry.stdout and dry.stdout.count("would remove") == 1
        assert len(repository_tags(docker_client, name)) == 4  # ours, and the foreign look-alike

        done = project.invoke("cache.clean", "--older-than", "0s")
        assert done.returncode == 0, done.stderr
        left = set(repository_tags(docker_client, name))
        assert left == {current, superseded[0], f"{name}:fp-0000000000000000"}
        assert docker_client.api.images(name="unlabelled-" + name)
    finally:
        docker_client.api.remove_container(container["Id"], force=True)
        docker_client.api.remove_image(f"unlabelled-{name}:keep")
        docker_client.api.remove_image(foreign.id, force=True)


def _current_short(project: TempProject, name: str) -> str:
    from dataplatform.catalog import load_catalog
    from dataplatform.images import fingerprint
    from dataplatform.project import Project

    catalog = load_catalog(Project(project.root))
    [spec] = [s for s in catalog.images if s.name == name]
    return fingerprint.compute(spec, project.root, None).short


def _second_checkout(first: TempProject, root: Path) -> TempProject:
    """Another clone of the same project (same namespace) at another path."""
    root.mkdir()
    for name in ("dodo.py", "tasks.py"):
        shutil.copy(first.root / name, root / name)
    shutil.copytree(first.root / "templates", root / "templates")
    shutil.copytree(first.root / "platform", root / "platform")
    return TempProject(root, first.namespace)


@pytest.mark.docker
def test_clean_spares_what_another_checkout_uses_as_current(
    project: TempProject, busybox_image: str, docker_client, tmp_path: Path
) -> None:
    """Two real checkouts of one project on one engine, on different content: cleaning one
    never removes the other's current image, until that checkout is gone."""
    name = unique_name()
    image_project(project, busybox_image, [name])
    other = _second_checkout(project, tmp_path / "other-clone")
    (other.root / "platform/images" / name / "lib/util.py").write_text("X = 'other branch'\n")
    for checkout in (project, other):
        done = checkout.doit()
        assert done.returncode == 0, done.stdout + done.stderr
    mine, theirs = _current_short(project, name), _current_short(other, name)
    assert mine != theirs
    assert {f"{name}:fp-{mine}", f"{name}:fp-{theirs}"} <= set(repository_tags(docker_client, name))

    status = project.invoke("cache.status")
    assert status.returncode == 0, status.stderr
    [row] = [line for line in status.stdout.splitlines() if theirs in line]
    assert "current in checkout" in row

    cleaned = project.invoke("cache.clean", "--older-than", "0s")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert (
        f"keeping {name} fp-{theirs}: current in checkout {other.root.resolve()}" in cleaned.stdout
    )
    assert {f"{name}:fp-{mine}", f"{name}:fp-{theirs}"} <= set(repository_tags(docker_client, name))
    again = other.doit()
    assert again.returncode == 0 and executed(again) == []  # nothing to rebuild there

    # The other checkout switches content: its old image is now superseded everywhere.
    (other.root / "platform/images" / name / "lib/util.py").write_text("X = 1\n")
    switched = other.doit()  # the first checkout's content: its image is there, only marked
    assert switched.returncode == 0 and executed(switched) == [], switched.stdout
    done = project.invoke("cache.clean", "--older-than", "0s")
    assert done.returncode == 0, done.stderr
    assert f"removing {name} fp-{theirs}" in done.stdout
    assert set(repository_tags(docker_client, name)) == {f"{name}:fp-{mine}"}


@pytest.mark.docker
def test_a_deleted_checkout_protects_nothing(
    project: TempProject, busybox_image: str, docker_client, tmp_path: Path
) -> None:
    name = unique_name()
    image_project(project, busybox_image, [name])
    other = _second_checkout(project, tmp_path / "gone-clone")
    (other.root / "platform/images" / name / "lib/util.py").write_text("X = 'gone'\n")
    for checkout in (project, other):
        done = checkout.doit()
        assert done.returncode == 0, done.stdout + done.stderr
    theirs = _current_short(other, name)
    shutil.rmtree(other.root)
    done = project.invoke("cache.clean", "--older-than", "0s")
    assert done.returncode == 0, done.stderr
    assert f"removing {name} fp-{theirs}" in done.stdout
    assert repository_tags(docker_client, name) == [f"{name}:fp-{_current_short(project, name)}"]
