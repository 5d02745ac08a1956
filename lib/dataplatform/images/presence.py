"""Which fingerprinted images an engine has, and which of them this checkout marks as its
current ones: the cheap check behind every image task's `uptodate`, kept free of the docker SDK
so a no-op stays fast.

The engine is asked only about the references a run needs (one `GET /images/<reference>/json`
each, a fraction of a millisecond), never for a listing of its images, whose cost grows with
every image on the engine, whoever's they are."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any, Protocol

from dataplatform import labels
from dataplatform.images import checkouts, engine
from dataplatform.images.fingerprint import Fingerprint
from dataplatform.images.spec import ImageSpec


class Known(Protocol):
    """`repository:tag` → the fingerprint its image carries (None: no such image, or none
    carried): a dict, or a run's lazy view of the engine (build/runstate.py)."""

    def get(self, reference: str, /) -> str | None: ...


def fingerprints_of(reference: str, timeout: float = engine.API_TIMEOUT_S) -> dict[str, str | None]:
    """What the engine's image `reference` says of itself, asked with one inspect (see
    `carried`). Raises `EngineUnavailable` when no engine answers."""
    return carried(inspect(reference, timeout), reference)


def inspect(reference: str, timeout: float = engine.API_TIMEOUT_S) -> dict[str, Any] | None:
    """The engine's inspection of image `reference` (`GET /images/<reference>/json`, no docker
    SDK on a local socket); None when it has no such image."""
    return engine.get_json(
        f"/images/{urllib.parse.quote(reference, safe='')}/json", missing_ok=True, timeout=timeout
    )


def carried(image: dict[str, Any] | None, reference: str) -> dict[str, str | None]:
    """From the engine's inspection of `reference` (None: no such image): `reference` and each
    of the image's tags (a checkout's mark among them, see images/checkouts.py) → the
    fingerprint the image carries (None: none)."""
    if not image:
        return {reference: None}
    digest = ((image.get("Config") or {}).get("Labels") or {}).get(labels.FINGERPRINT)
    return {**dict.fromkeys(image.get("RepoTags") or [], digest), reference: digest}


def is_present(known: Known, spec: ImageSpec, fingerprint: Fingerprint) -> bool:
    return known.get(f"{spec.repository}:{fingerprint.tag}") == fingerprint.digest


def is_marked(known: Known, spec: ImageSpec, fingerprint: Fingerprint, root: Path) -> bool:
    """The checkout at `root` marks this fingerprint's image as the one it uses (see
    images/checkouts.py)."""
    return known.get(mark_of(spec, root)) == fingerprint.digest


def mark_of(spec: ImageSpec, root: Path) -> str:
    """The reference that marks `spec`'s image as the checkout at `root`'s current one."""
    return checkouts.mark_reference(spec.name, checkouts.checkout_id(root))


def base_problem(reference: str) -> tuple[str, bool] | None:
    """Why the base image `reference` cannot be used, asked before a build context is sent:
    None when the engine has it (one inspect) or pulls it now; else (the engine's message,
    whether its registry was unreachable). Without a local socket the build finds out itself
    (None)."""
    if inspect(reference) is not None:
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
