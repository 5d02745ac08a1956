"""Put labels on a freshly built image without a build step.

The classic builder turns every LABEL instruction into a build step, and so does the build API's
`labels=` parameter (one step per label): a container is created from the whole image and
committed. On vfs that copies the root filesystem; on any driver it costs about as much as a
COPY step, which doubled the time of a cold build of small images. Instead the built image's
own configuration is read back (`docker save`, whose config is the stored JSON, byte for byte),
the labels are added with one `empty_layer` history entry saying so, and the result is loaded as
a child of the built image (`docker load` with only the config: the engine already holds every
layer, so nothing else is sent or unpacked). The labelled image has exactly the built image's
layers, and the built image stays its parent, so the engine's build cache and `docker rmi`
behave as after a LABEL step.

`docker save` streams every layer, so above `LOAD_MAX_BYTES` a one-instruction build
(`FROM <built image>` + `LABEL`) is cheaper, and is used instead; so it is when an engine
refuses the config-only load.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator

import docker

LOAD_MAX_BYTES = 128 * 1024 * 1024
MARK = "(dataplatform)"  # ends the history entry's created_by, telling it from a Dockerfile's


class _StreamReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the engine's HTTP stream)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def label_instruction(labels: dict[str, str]) -> str:
    return "LABEL " + " ".join(
        f"{json.dumps(k)}={json.dumps(v)}" for k, v in sorted(labels.items())
    )


def stored_config(api: docker.APIClient, image_id: str) -> bytes:
    """The image's configuration JSON exactly as the engine stores it (its ID is its sha256)."""
    wanted = image_id.removeprefix("sha256:") + ".json"
    with tarfile.open(
        fileobj=io.BufferedReader(_StreamReader(iter(api.get_image(image_id)))), mode="r|"
    ) as tar:
        for member in tar:
            if member.name == wanted:
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    raise docker.errors.DockerException(f"`docker save` of {image_id} held no configuration")


def labelled_config(raw: bytes, parent_id: str, labels: dict[str, str]) -> bytes:
    """`raw` with `labels` added, as the LABEL step on top of `parent_id` would record it; its
    time is the parent's, so the same build labelled the same way is the same image."""
    config = json.loads(raw)
    instruction = label_instruction(labels)
    for key in ("config", "container_config"):
        section = config.get(key) or {}
        section["Labels"] = {**(section.get("Labels") or {}), **labels}
        section["Image"] = parent_id
        config[key] = section
    config["container_config"]["Cmd"] = ["/bin/sh", "-c", f"#(nop) {instruction} {MARK}"]
    config.pop("container", None)
    history = config.get("history") or []
    history.append(
        {
            "created": config.get("created"),
            "created_by": f"{instruction} {MARK}",
            "empty_layer": True,
        }
    )
    config["history"] = history
    return json.dumps(config, separators=(",", ":")).encode()


def _load(api: docker.APIClient, parent_id: str, labels: dict[str, str]) -> str:
    parent = stored_config(api, parent_id)
    raw = labelled_config(parent, parent_id, labels)
    image_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    # Layer paths are named but absent: the engine has every layer of its own image. The engine
    # links a loaded image to a parent loaded with it only, so the parent's unchanged config
    # comes along (loading it again changes nothing).
    layers = [f"layer{i}/layer.tar" for i in range(len(json.loads(raw)["rootfs"]["diff_ids"]))]
    manifest = [
        {"Config": "parent.json", "RepoTags": None, "Layers": layers},
        {"Config": "config.json", "RepoTags": None, "Layers": layers, "Parent": parent_id},
    ]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data in (
            ("parent.json", parent),
            ("config.json", raw),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    for event in api.load_image(archive.getvalue(), quiet=True):
        if isinstance(event, dict) and event.get("error"):
            raise docker.errors.DockerException(f"loading the labelled image: {event['error']}")
    return image_id


def _build(api: docker.APIClient, parent_id: str, labels: dict[str, str]) -> str:
    dockerfile = f"FROM {parent_id}\n{label_instruction(labels)}\n".encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    archive.seek(0)
    image_id = None
    for chunk in api.build(
        fileobj=archive, custom_context=True, rm=True, forcerm=True, pull=False, decode=True
    ):
        if "error" in chunk:
            raise docker.errors.DockerException(f"labelling the image: {chunk['error']}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = aux["ID"]
    if not image_id:
        raise docker.errors.DockerException("labelling the image: the engine reported no ID")
    return image_id


def add_labels(api: docker.APIClient, image_id: str, labels: dict[str, str]) -> str:
    """The ID of a child of `image_id` that carries `labels` and no extra layer."""
    if not labels:
        return image_id
    size = api.inspect_image(image_id).get("Size") or 0
    if size <= LOAD_MAX_BYTES:
        try:
            return _load(api, image_id, labels)
        except docker.errors.APIError:
            pass  # an engine (API) that does not load a config-only archive: a step does it
    return _build(api, image_id, labels)
