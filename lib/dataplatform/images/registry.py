"""The shared registry cache: `<registry>/<name>:fp-<short>` is the same image on every machine.

A pulled image is only accepted if its fingerprint label equals the full fingerprint, so a
16-hex tag collision or a foreign tag can never stand in for the real thing.
"""

from __future__ import annotations

from collections.abc import Callable

import docker
import docker.errors

from dataplatform import labels
from dataplatform.images.fingerprint import Fingerprint
from dataplatform.images.spec import ImageSpec

Log = Callable[[str], None]


def remote_repository(registry: str, spec: ImageSpec) -> str:
    return f"{registry}/{spec.repository}"


def _stream_error(events) -> str | None:
    for event in events:
        if isinstance(event, dict) and event.get("error"):
            return (event.get("errorDetail") or {}).get("message") or event["error"]
    return None


def pull(
    api: docker.APIClient, registry: str, spec: ImageSpec, fingerprint: Fingerprint, log: Log
) -> bool:
    """Pull the image for `fingerprint` and tag it locally; False on a miss (said in `log`)."""
    repository = remote_repository(registry, spec)
    reference = f"{repository}:{fingerprint.tag}"
    try:
        error = _stream_error(api.pull(repository, tag=fingerprint.tag, stream=True, decode=True))
    except docker.errors.APIError as exc:
        error = exc.explanation or str(exc)
    if error:
        lowered = error.lower()
        if "not found" in lowered or "unknown" in lowered:
            log(f"not in the registry ({reference}); building")
        else:
            log(f"registry unavailable ({error.strip()}); building")
        return False
    found = (api.inspect_image(reference).get("Config") or {}).get("Labels") or {}
    if found.get(labels.FINGERPRINT) != fingerprint.digest:
        log(f"{reference} carries another fingerprint; ignoring it and building")
        api.remove_image(reference)
        return False
    api.tag(reference, spec.repository, fingerprint.tag)
    log(f"pulled {reference}")
    return True


def push(
    api: docker.APIClient,
    registry: str,
    spec: ImageSpec,
    fingerprint: Fingerprint,
    image_id: str,
    log: Log,
) -> bool:
    """Push a freshly built image; a failure is reported but does not fail the build."""
    repository = remote_repository(registry, spec)
    api.tag(image_id, repository, fingerprint.tag)
    try:
        error = _stream_error(api.push(repository, tag=fingerprint.tag, stream=True, decode=True))
    except docker.errors.APIError as exc:
        error = exc.explanation or str(exc)
    if error:
        log(
            f"! could not push {repository}:{fingerprint.tag} ({error.strip()}); other "
            "machines will build it themselves"
        )
        return False
    log(f"pushed {repository}:{fingerprint.tag}")
    return True


def present_in_registry(
    api: docker.APIClient, registry: str, repository: str, tag: str
) -> bool | None:
    """Whether the registry has `repository:tag`; None when the registry cannot be asked."""
    try:
        api.inspect_distribution(f"{registry}/{repository}:{tag}")
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        text = (exc.explanation or str(exc)).lower()
        if "not found" in text or "unknown" in text or "manifest" in text:
            return False
        return None
