"""Real engines on this machine: a `free_port` on loopback, the busybox base image (built from
Debian's busybox-static: nothing can be pulled here), a loopback registry (Debian's
docker-registry), the Debian and PostgreSQL test images, and removing a test's images.

Functions raise `Missing` when a tool they need is not installed; fixtures turn it into
`require` (support.requirements.required), benchmarks exit with it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.projects import REPO
from support.requirements import Missing

BUSYBOX_IMAGE = "dataplatform-test/busybox:1"
POSTGRES_IMAGE = "dataplatform-test/postgres:15-utf8"  # clusters are initialised UTF-8
DEBIAN_IMAGE = "dataplatform-test/debian:bookworm"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _has_image(client: Any, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def busybox_base(client: Any, tag: str = BUSYBOX_IMAGE, extra: str = "") -> str:
    """A minimal real base image (busybox-static) tagged `tag`, built once per engine;
    `extra` Dockerfile lines make a base with an ID of its own."""
    if _has_image(client, tag):
        return tag
    if shutil.which("busybox") is None or not Path("/bin/busybox").exists():
        raise Missing("busybox-static is not installed (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory() as context:
        shutil.copy("/bin/busybox", Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n' + extra
        )
        client.images.build(path=context, tag=tag, rm=True)
    return tag


@contextlib.contextmanager
def loopback_registry(root: Path) -> Iterator[str]:
    """A real registry (Debian's docker-registry) storing under `root`, on a free loopback
    port; yields `127.0.0.1:PORT`, stops it after."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise Missing("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    config = root / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("docker-registry did not start") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def repository_tags(client: Any, name: str) -> list[str]:
    """Every tag of every image of repository `name` on the engine."""
    return [t for i in client.api.images(name=name) for t in i["RepoTags"]]


def remove_namespace_images(namespace: str) -> None:
    """Remove the images a throwaway project (`dataplatform.project=namespace`) built."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        images = client.api.images(filters={"label": f"dataplatform.project={namespace}"})
    except Exception:  # no engine: nothing was built
        return
    for image in images:
        for tag in image.get("RepoTags") or []:
            with contextlib.suppress(Exception):
                client.api.remove_image(tag)
        with contextlib.suppress(Exception):
            client.api.remove_image(image["Id"], force=True)


def debian_base(client: Any) -> str:
    """A minimal Debian bookworm imported from debootstrap, once per machine (nothing can be
    pulled here)."""
    if _has_image(client, DEBIAN_IMAGE):
        return DEBIAN_IMAGE
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise Missing("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory() as root:
        os.chmod(root, 0o755)  # it becomes the image's "/"
        subprocess.run(
            [debootstrap, "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian"],
            check=True,
            capture_output=True,
            timeout=900,
        )
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "-", DEBIAN_IMAGE],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=600,
        )
        tar.wait()
    return DEBIAN_IMAGE


def postgres_base(client: Any, debian: str) -> str:
    """A real PostgreSQL 15 image built from Debian's packages on `debian`, once per
    machine."""
    if _has_image(client, POSTGRES_IMAGE):
        return POSTGRES_IMAGE
    client.images.build(
        path=str(REPO / "tests/images/postgres"),
        tag=POSTGRES_IMAGE,
        network_mode="host",
        rm=True,
        buildargs={"BASE": debian},
    )
    return POSTGRES_IMAGE


def build_ca_certificates() -> str:
    """The extra CA certificates this machine trusts (a TLS-inspecting proxy's), for image
    builds that install from a package index; empty where there are none."""
    found = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    return "\n".join(path.read_text().strip() for path in found)
