"""Parity with a real engine: the files `docker build` delivers to `COPY . /ctx` are exactly the
files our fingerprint covers, and our own build path delivers the same set.

Each scenario builds `FROM scratch` + `COPY . /ctx` twice — once with the docker CLI's classic
builder (the reference), once through the toolkit — and compares the exported file lists.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import docker.errors
import pytest

from dataplatform.images import builder
from dataplatform.images import fingerprint as fp
from dataplatform.images.spec import ImageSpec

pytestmark = pytest.mark.docker

TREE = [
    "Dockerfile",
    "app/main.py",
    "app/secret.key",
    "app/sub/deep.py",
    "build/out.o",
    "data/1.csv",
    "data/a.csv",
    "docs/a.md",
    "docs/keep.txt",
    "docs/sub/b.md",
    "important.log",
    "log1.txt",
    "log22.txt",
    "node_modules/dep/index.js",
    "node_modules/keep/x.js",
    "other.log",
    "src/a/b/c.tmp",
    "src/a/b/d.py",
    "src/__pycache__/m.pyc",
    "top.md",
    "x/a/y/b",
    "x/b",
    "Dockerfile.bak",
]

SCENARIOS = {
    "reinclude-inside-excluded-dir": "node_modules\n!node_modules/keep/**\n*.log\n!important.log\n",
    "anchored-and-double-star": "/build\nsrc/**/*.tmp\n**/__pycache__\n",
    "reinclude-needs-literal-prefix": "docs\n!**/*.md\n!docs/keep.txt\n",
    "exclude-all-then-allow": "*\n!app/\n!Dockerfile\napp/secret*\n",
    "dockerfile-and-dockerignore-excluded": "Dockerfile\n.dockerignore\n*.bak\n",
    "classes-and-question-mark": "data/[0-9]*.csv\nlog?.txt\n",
    "double-star-in-the-middle": "x/**/b\n# a comment\n\n   \n",
}


def make_context(root: Path, dockerignore: str) -> None:
    for relpath in TREE:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {relpath}\n")
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx\n")
    (root / ".dockerignore").write_text(dockerignore)
    (root / "empty-dir").mkdir()


def exported_files(client, image: str) -> set[str]:
    container = client.api.create_container(image, command="none")
    try:
        data = b"".join(client.api.export(container["Id"]))
    finally:
        client.api.remove_container(container["Id"], force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            m.name.removeprefix("ctx/")
            for m in tar.getmembers()
            if m.name.startswith("ctx/") and not m.isdir()
        }


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_selection_matches_the_engine(scenario: str, tmp_path: Path, docker_client) -> None:
    context = tmp_path / "ctx"
    make_context(context, SCENARIOS[scenario])
    reference = f"dataplatform-parity/{uuid.uuid4().hex[:10]}:cli"
    docker_cli = shutil.which("docker")
    assert docker_cli, "the docker CLI is needed for the reference build"
    done = subprocess.run(
        [docker_cli, "build", "-q", "-t", reference, str(context)],
        env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    built: list[str] = []
    try:
        engine_view = exported_files(docker_client, reference)
        spec = ImageSpec("parity", context, context / "Dockerfile", None, (), "test")
        ours = fp.compute(spec, tmp_path, None)
        assert {f.relpath for f in ours.files} == engine_view

        image_id = builder.build_image(docker_client.api, spec, ours, {}, lambda line: None)
        built.append(image_id)
        assert exported_files(docker_client, image_id) == engine_view
    finally:
        for image in (reference, *built):
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.api.remove_image(image, force=True)
