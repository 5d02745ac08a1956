"""Bad image declarations: one clear line naming the image and the file, a non-zero exit,
and no fingerprint tag left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TempProject, clean_env, unique_name

pytestmark = pytest.mark.docker


def declare(project: TempProject, name: str, extra: str = "", context: str | None = None) -> Path:
    directory = project.root / "platform/images" / name
    directory.mkdir(parents=True)
    (directory / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (directory / "app.txt").write_text("hello\n")
    project.services(f"  {name}:\n    build:\n      context: {context or 'images/' + name}\n"
                     f"{extra}")
    return directory


def failure_lines(result: subprocess.CompletedProcess, needle: str) -> list[str]:
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    return [line for line in out.splitlines() if needle in line]


def assert_untagged(docker_client, name: str) -> None:
    assert docker_client.api.images(name=name) == []


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


def test_context_outside_the_repository(project: TempProject, docker_client,
                                        tmp_path: Path) -> None:
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


def test_malformed_dockerignore(project: TempProject, docker_client) -> None:
    name = unique_name()
    directory = declare(project, name)
    (directory / ".dockerignore").write_text("*.log\n!\n")
    result = project.doit()
    assert result.returncode == 1
    [line] = failure_lines(result, f"✗ image:{name}:")
    assert f"platform/images/{name}/.dockerignore:2: malformed pattern" in line
    assert_untagged(docker_client, name)


def test_build_arg_that_is_not_a_string(project: TempProject, docker_client) -> None:
    name = unique_name()
    declare(project, name, extra="      args:\n        RETRIES: 3\n")
    result = project.doit()
    assert result.returncode == 3
    [line] = failure_lines(result, "RETRIES")
    assert line == (f"ERROR: platform/services.yaml:7: services.{name}.build.args.RETRIES: "
                    'build arg must be a string, got number 3 — quote it: RETRIES: "3"')
    assert_untagged(docker_client, name)


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
    result = subprocess.run(command, cwd=project.root, env=clean_env(), capture_output=True,
                            text=True, timeout=120)
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
    [line] = failure_lines(result, "ERROR:")
    assert line == (f"ERROR: platform/services.yaml:6: services.{name}.build.dockerfil: unknown "
                    "key — did you mean 'dockerfile'?")
