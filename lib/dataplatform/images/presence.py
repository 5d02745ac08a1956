"""Which fingerprinted images an engine has: the cheap check behind every image task's
`uptodate`, kept free of the docker SDK so a no-op stays fast."""

from __future__ import annotations

from typing import Any

from dataplatform import labels
from dataplatform.images import engine
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
