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


def is_marked(known: dict[str, str], spec: ImageSpec, fingerprint: Fingerprint,
              root: Path) -> bool:
    """The checkout at `root` marks this fingerprint's image as the one it uses (see
    images/checkouts.py)."""
    mark = checkouts.mark_reference(spec.name, checkouts.checkout_id(root))
    return known.get(mark) == fingerprint.digest
