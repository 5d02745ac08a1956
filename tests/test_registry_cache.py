"""The shared registry cache against a real registry on loopback: a build pushes, and an engine
that lost the image gets it back by pull, byte-identical, without building."""

from __future__ import annotations

import re

import pytest

from support import TempProject, executed, image_project, repository_tags, unique_name

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def test_build_pushes_and_an_empty_engine_pulls_instead_of_building(
    project: TempProject, busybox_image: str, registry: str, docker_client
) -> None:
    name = unique_name()
    image_project(project, busybox_image, [name])  # RUN date: a rebuild would differ
    project.env["DATAPLATFORM_REGISTRY"] = registry

    built = project.doit()
    assert built.returncode == 0, built.stdout + built.stderr
    [tag] = repository_tags(docker_client, name)
    fingerprint_tag = tag.split(":")[1]
    assert f"pushed {registry}/{name}:{fingerprint_tag}" in built.stdout
    original_id = docker_client.api.inspect_image(tag)["Id"]

    for image in docker_client.api.images(name=name) + docker_client.api.images(
        name=f"{registry}/{name}"
    ):
        for reference in image["RepoTags"]:
            docker_client.api.remove_image(reference)
    assert repository_tags(docker_client, name) == []

    pulled = project.doit()
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert executed(pulled) == [f"image:{name}"]
    assert f"pulled {registry}/{name}:{fingerprint_tag}" in pulled.stdout
    assert not re.search(r"Step \d+/", pulled.stdout), "it built instead of pulling"
    assert docker_client.api.inspect_image(tag)["Id"] == original_id
    assert executed(project.doit()) == []


def test_registry_setting_from_dotenv_and_status_shows_it(
    project: TempProject, busybox_image: str, registry: str, docker_client
) -> None:
    name = unique_name()
    image_project(project, busybox_image, [name])
    project.write(".env", f"# workstation settings\nDATAPLATFORM_REGISTRY={registry}\n")
    result = project.doit()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"pushed {registry}/{name}:fp-" in result.stdout
    status = project.invoke("cache.status")
    assert status.returncode == 0, status.stdout + status.stderr
    [row] = [line for line in status.stdout.splitlines() if name in line]
    assert row.count("✓") == 2  # current, and present in the registry


def test_a_miss_in_the_registry_builds_and_says_so(
    project: TempProject, busybox_image: str, registry: str
) -> None:
    name = unique_name()
    image_project(project, busybox_image, [name])
    result = project.doit(DATAPLATFORM_REGISTRY=registry)
    assert result.returncode == 0
    assert f"not in the registry ({registry}/{name}:fp-" in result.stdout
    assert re.search(r"Step \d+/", result.stdout)
