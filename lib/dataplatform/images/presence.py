"""Which fingerprinted images an engine has, and which of them this checkout marks as its
current ones: the cheap check behind every image task's `uptodate`, kept free of the docker SDK
so a no-op stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataplatform import labels
from dataplatform.images import checkouts, engine
from dataplatform.images.fingerprint import Fingerprint
from dataplatform.images.spec import ImageSpec


def fingerprints_by_tag(images: list[dict[str, Any]]) -> dict[str, str]:
    """`repository:tag` → full fingerprint, from an image listing."""
    found: dict[str, str] = {}
    for image in images:
        digest = (image.get("Labels") or {}).get(labels.FINGERPRINT)
        for tag in image.get("RepoTags") or []:
            found[tag] = digest
    return found


def local_fingerprints() -> dict[str, str]:
    return fingerprints_by_tag(engine.list_images(labels.FINGERPRINT))


def is_present(known: dict[str, str], spec: ImageSpec, fingerprint: Fingerprint) -> bool:
    return known.get(f"{spec.repository}:{fingerprint.tag}") == fingerprint.digest


def is_marked(known: dict[str, str], spec: ImageSpec, fingerprint: Fingerprint, root: Path) -> bool:
    """The checkout at `root` marks this fingerprint's image as the one it uses (see
    images/checkouts.py)."""
    mark = checkouts.mark_reference(spec.name, checkouts.checkout_id(root))
    return known.get(mark) == fingerprint.digest


def base_problem(reference: str) -> tuple[str, bool] | None:
    """Why the base image `reference` cannot be used, asked before a build context is sent:
    None when the engine has it (one inspect) or pulls it now; else (the engine's message,
    whether its registry was unreachable). Without a local socket the build finds out itself
    (None)."""
    import urllib.parse

    if (
        engine.get_json(f"/images/{urllib.parse.quote(reference, safe='')}/json", missing_ok=True)
        is not None
    ):
        return None
    name, at, digest = reference.partition("@")
    tag = ""
    if not at and name.rfind(":") > name.rfind("/"):
        name, tag = name[: name.rfind(":")], name[name.rfind(":") + 1 :]
    answer = engine.post("/images/create", {"fromImage": name, "tag": digest or tag or "latest"})
    if answer is None:
        return None
    status, body = answer
    message = ""
    if status != 200:
        message = _message(body) or f"HTTP {status}"
    else:  # a streamed pull reports its failure in the stream
        for line in body.decode(errors="replace").splitlines():
            if '"error"' in line:
                message = _message(line.encode()) or line
    if not message:
        return None
    return message, any(m in message for m in NETWORK_FAILURES)


NETWORK_FAILURES = (
    "dial tcp",
    "no such host",
    "i/o timeout",
    "TLS handshake timeout",
    "connection refused",
    "network is unreachable",
    "Temporary failure in name resolution",
)


def _message(body: bytes) -> str:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:300]
    return str(data.get("message") or data.get("error") or "").strip()
