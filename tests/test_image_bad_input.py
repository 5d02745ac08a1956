"""Bad image declarations: one clear line naming the image and the file, a non-zero exit,
and no fingerprint tag left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import TempProject, clean_env, unique_name


def declare(project: TempProject, name: str, extra: str = "", context: str | None = None) -> Path:
    directory = project.root / "platform/images" / name
    directory.mkdir(parents=True)
    (directory / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (directory / "app.txt").write_text("hello\n")
    project.services(
        f"  {name}:\n    build:\n      context: {context or 'images/' + name}\n{extra}"
    )
    return directory


def failure_lines(result: subprocess.CompletedProcess, needle: str) -> list[str]:
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    return [line for line in out.splitlines() if needle in line]


def assert_untagged(docker_client, name: str) -> None:
    assert docker_client.api.images(name=name) == []


@pytest.mark.docker
def test_missing_dockerfile(project: TempProject, docker_client) -> None:
    name = unique_name()
    directory = declare(project, name)
    (directory / "Dockerfile").unlink()
    result = project.doit()
    assert result.returncode == 1
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert f"Dockerfile platform/images/{name}/Dockerfile not found" in line
    assert "platform/services.yaml:" in line
    assert_untagged(docker_client, name)


@pytest.mark.docker
def test_context_outside_the_repository(
    project: TempProject, docker_client, tmp_path: Path
) -> None:
    name = unique_name()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM scratch\n")
    declare(project, name, context=str(outside))
    result = project.doit()
    assert result.returncode == 1
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert "lies outside the repository" in line and str(outside) in line
    assert_untagged(docker_client, name)


@pytest.mark.docker
def test_malformed_dockerignore(project: TempProject, docker_client) -> None:
    name = unique_name()
    directory = declare(project, name)
    (directory / ".dockerignore").write_text("*.log\n!\n")
    result = project.doit()
    assert result.returncode == 1
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert f"platform/images/{name}/.dockerignore:2: malformed pattern" in line
    assert_untagged(docker_client, name)


@pytest.mark.docker
def test_build_arg_that_is_not_a_string(project: TempProject, docker_client) -> None:
    name = unique_name()
    declare(project, name, extra="      args:\n        RETRIES: 3\n")
    result = project.doit()
    assert result.returncode == 3
    [line] = failure_lines(result, "RETRIES")
    assert line == (
        f"✗ platform/services.yaml:7: services.{name}.build.args.RETRIES: "
        'build arg must be a string, got number 3 — quote it: RETRIES: "3"'
    )
    assert_untagged(docker_client, name)


@pytest.mark.docker
def test_unreadable_file_in_the_context(project: TempProject, docker_client) -> None:
    """Root reads everything, so as root doit runs without CAP_DAC_OVERRIDE (setpriv)."""
    name = unique_name()
    directory = declare(project, name)
    secret = directory / "secret.pem"
    secret.write_text("not for you\n")
    secret.chmod(0o000)
    command = [sys.executable, "-m", "doit"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root's read-anything capability"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    result = subprocess.run(
        command, cwd=project.root, env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert f"cannot read platform/images/{name}/secret.pem (Permission denied)" in line
    assert "add it to .dockerignore" in line
    assert_untagged(docker_client, name)


def test_unknown_key_suggests_the_right_one(project: TempProject) -> None:
    name = unique_name()
    declare(project, name, extra="      dockerfil: Dockerfile\n")
    result = project.doit()
    assert result.returncode == 3
    [line] = failure_lines(result, "✗ platform/services.yaml")
    assert line == (
        f"✗ platform/services.yaml:6: services.{name}.build.dockerfil: unknown "
        "key — did you mean 'dockerfile'?"
    )


NO_ENGINE = "unix:///nonexistent/docker.sock"


def _malformed_base(project: TempProject) -> str:
    name = unique_name()
    project.write(
        f"platform/images/{name}/Dockerfile",
        "# a multi-stage build\n"
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS build\nFROM build\n"
        "FROM --platform=linux/amd64 \\\n    Not_Lower/Case:1\nCOPY . /app\n",
    )
    project.services(f"  {name}:\n    build: images/{name}\n")
    return name


def _assert_malformed_base_line(result: subprocess.CompletedProcess, name: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert line == (
        f"✗ image:{name}: platform/images/{name}/Dockerfile:5: FROM Not_Lower/Case:1 "
        "is not a valid image reference: repository names must be lowercase — fix "
        "the base image name (e.g. python:3.11-slim, "
        "registry.example.com:5000/team/base:1)"
    )
    assert f"did not run image:{name}" not in result.stdout  # an error, not an offline skip


def test_a_malformed_base_image_name_is_an_error_even_offline(project: TempProject) -> None:
    """No engine at all (laptop mode): the name is checked against Docker's grammar here."""
    name = _malformed_base(project)
    _assert_malformed_base_line(project.doit(DOCKER_HOST=NO_ENGINE), name)


@pytest.mark.docker
def test_a_malformed_base_image_name_is_the_same_error_with_an_engine(
    project: TempProject, docker_client
) -> None:
    name = _malformed_base(project)
    _assert_malformed_base_line(project.doit(), name)
    assert_untagged(docker_client, name)


def test_a_malformed_base_image_from_a_build_arg_names_the_arg(project: TempProject) -> None:
    name = unique_name()
    project.write(f"platform/images/{name}/Dockerfile", "ARG BASE\nFROM $BASE\n")
    project.services(
        f"  {name}:\n    build:\n      context: images/{name}\n"
        '      args: {BASE: "Python:3.11"}\n'
    )
    result = project.doit(DOCKER_HOST=NO_ENGINE)
    assert result.returncode == 1
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert "Dockerfile:2: FROM Python:3.11 (from $BASE) is not a valid image reference" in line


# Checked against the engine below: valid references, then malformed ones.
VALID = [
    "python:3.11-slim-bookworm",
    "busybox",
    "library/busybox:1.36",
    "localhost/x:1",
    "127.0.0.1:5000/team/base:1",
    "registry.example.com/a/b/c:v1.2_3",
    "Registry.Example.com:443/team/img",
    "a__b/c-d---e.f:latest",
    "x:" + "t" * 128,
]
MALFORMED = [
    "Not_Lower/Case:1",
    "Python:3.11",
    "python:3.11:slim",
    "team//base",
    "-x:1",
    "x:-tag",
    "x:" + "t" * 129,
    "bad_host_/x:1",
    "under_/x",
    "a..b/c",
    ":1",
    "x" * 256,
]


@pytest.mark.parametrize("reference", VALID + MALFORMED)
@pytest.mark.docker
def test_reference_grammar_agrees_with_the_engine(
    reference: str, docker_client, busybox_image: str
) -> None:
    """The engine's own parser is the authority: tagging with the reference must succeed
    exactly when base_images finds nothing wrong with it."""
    import docker.errors

    from dataplatform.images import base_images

    repository, _, tag = (
        reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (reference, "", "")
    )
    try:
        docker_client.api.tag(busybox_image, repository, tag or None)
        accepted = True
        docker_client.api.remove_image(reference if tag else f"{reference}:latest")
    except docker.errors.APIError:
        accepted = False
    assert (base_images.reference_problem(reference) is None) == accepted
    assert accepted == (reference in VALID)


def test_from_lines_resolve_args_and_skip_stages() -> None:
    from dataplatform.images.base_images import from_lines

    text = (
        'ARG BASE=python:3.11 OTHER\nARG TAG="1"\n# FROM commented:out\n'
        "FROM ${BASE} AS builder\nARG LATE=nope\nFROM Builder AS again\n"
        "FROM $OTHER\nFROM ${MISSING:-debian:bookworm}\nFROM reg/x:${TAG}\n"
        "FROM ${LATE}\n"
    )
    lines = [(f.line, f.written, f.reference) for f in from_lines(text, {"TAG": "2"})]
    assert lines == [
        (4, "${BASE}", "python:3.11"),
        (7, "$OTHER", None),
        (8, "${MISSING:-debian:bookworm}", "debian:bookworm"),
        (9, "reg/x:${TAG}", "reg/x:2"),
        (10, "${LATE}", None),
    ]


def test_every_shipped_dockerfile_passes() -> None:
    from dataplatform.images.base_images import from_lines, reference_problem
    from support import REPO

    dockerfiles = sorted(REPO.glob("platform/images/*/Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        for line in from_lines(dockerfile.read_text(), {}):
            assert line.reference is None or reference_problem(line.reference) is None, line
