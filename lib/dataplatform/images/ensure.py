"""Ensure the image of a fingerprint exists: local tag, else pull from the registry, else build
(then push). The only place that decides between the three."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker

from dataplatform import labels
from dataplatform.images import builder, checkouts, presence, registry
from dataplatform.images.fingerprint import Fingerprint
from dataplatform.images.spec import ImageSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    how: str  # "present" | "pulled" | "built"
    image_id: str


def image_labels(namespace: str, spec: ImageSpec, fingerprint: Fingerprint) -> dict[str, str]:
    return {
        labels.PROJECT: namespace,
        labels.IMAGE: spec.name,
        labels.FINGERPRINT: fingerprint.digest,
    }


def ensure_image(
    api: docker.APIClient,
    namespace: str,
    spec: ImageSpec,
    fingerprint: Fingerprint,
    registry_prefix: str | None,
    log: Log,
    checkout: Path | None = None,
) -> Outcome:
    """`checkout`: the root of the checkout that now uses this image as current (it is marked
    so, see images/checkouts.py)."""
    outcome = _ensure(api, namespace, spec, fingerprint, registry_prefix, log)
    if checkout is not None:
        checkouts.mark(api, outcome.image_id, spec.name, checkout)
    return outcome


def _ensure(
    api: docker.APIClient,
    namespace: str,
    spec: ImageSpec,
    fingerprint: Fingerprint,
    registry_prefix: str | None,
    log: Log,
) -> Outcome:
    reference = f"{spec.repository}:{fingerprint.tag}"
    found = presence.inspect(reference)
    if presence.is_present(presence.carried(found, reference), spec, fingerprint):
        assert found is not None
        return Outcome("present", found["Id"])
    if registry_prefix and registry.pull(api, registry_prefix, spec, fingerprint, log):
        return Outcome("pulled", api.inspect_image(reference)["Id"])
    image_id = builder.build_image(
        api, spec, fingerprint, image_labels(namespace, spec, fingerprint), log
    )
    api.tag(image_id, spec.repository, fingerprint.tag)
    log(f"built {reference}")
    if registry_prefix:  # a failed push is logged, never a failed build
        registry.push(api, registry_prefix, spec, fingerprint, image_id, log)
    return Outcome("built", image_id)
