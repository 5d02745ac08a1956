"""The project's images on the engine: which are current, which are superseded, and cleaning.

Only images labelled with this project's namespace are ever listed or removed. An image is
removable when it is superseded (not the current fingerprint of a declared image in this
checkout), older than the threshold, no container (running or stopped) uses it, and no other
live checkout marks it as the image it currently uses (images/checkouts.py): the namespace is
shared by every clone on the engine, so this checkout's view alone cannot decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import docker.errors

from dataplatform import labels
from dataplatform.errors import UserError
from dataplatform.images import checkouts
from dataplatform.images import registry as registry_cache

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w` → timedelta; anything else is a one-line UserError."""
    match = _AGE.match(text or "")
    if not match:
        raise UserError(
            f"--older-than {text!r} is not a duration — use a number and a unit: 30m, 12h, 7d, 2w"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class ImageRecord:
    image_id: str
    name: str
    fingerprint: str
    tags: list[str]
    size: int
    created: datetime
    current: bool | None  # None: the declaration could not be fingerprinted
    used_by: list[str] = field(default_factory=list)  # containers, running or stopped
    in_registry: bool | None = None
    current_in: list[str] = field(default_factory=list)  # other live checkouts using it

    @property
    def short(self) -> str:
        return self.fingerprint[:16]


def survey(
    api: docker.APIClient,
    namespace: str,
    current: dict[str, str | None],
    registry: str | None = None,
    here: Path | None = None,
) -> list[ImageRecord]:
    """This project's images with their status; `current` maps declared name → fingerprint
    (None when it could not be computed, which makes every image of that name count as current).
    `here` is this checkout's root: the other live checkouts that mark an image as their current
    one are listed in its `current_in`."""
    users: dict[str, list[str]] = {}
    for container in api.containers(all=True):
        names = [n.lstrip("/") for n in container.get("Names") or []]
        users.setdefault(container.get("ImageID", ""), []).extend(names)
    own = checkouts.checkout_id(here) if here is not None else None
    records = []
    for image in api.images(filters={"label": f"{labels.PROJECT}={namespace}"}):
        found = image.get("Labels") or {}
        name = found.get(labels.IMAGE, "?")
        digest = found.get(labels.FINGERPRINT, "")
        if name in current:
            is_current = None if current[name] is None else current[name] == digest
        else:
            is_current = False  # its declaration is gone
        tags = sorted(t for t in image.get("RepoTags") or [] if t != "<none>:<none>")
        record = ImageRecord(
            image_id=image["Id"],
            name=name,
            fingerprint=digest,
            tags=tags,
            size=int(image.get("Size") or 0),
            created=datetime.fromtimestamp(int(image.get("Created") or 0), tz=UTC),
            current=is_current,
            used_by=users.get(image["Id"], []),
            current_in=_other_checkouts(tags, own),
        )
        if registry and digest:
            record.in_registry = registry_cache.present_in_registry(
                api, registry, name, f"fp-{record.short}"
            )
        records.append(record)
    records.sort(key=lambda r: (r.name, r.created), reverse=False)
    return records


def _other_checkouts(tags: list[str], own: str | None) -> list[str]:
    """The live checkouts other than this one that mark an image as their current one."""
    found = []
    for tag in tags:
        parsed = checkouts.parse_mark(tag)
        if parsed is None or parsed[1] == own:
            continue
        checkout = checkouts.lookup(parsed[1])
        if checkout.live:
            found.append(checkout.describe())
    return found


def removable(
    records: list[ImageRecord], older_than: timedelta, now: datetime | None = None
) -> list[ImageRecord]:
    now = now or datetime.now(tz=UTC)
    return [
        r
        for r in records
        if r.current is False
        and not r.used_by
        and not r.current_in
        and now - r.created >= older_than
    ]


def remove(api: docker.APIClient, record: ImageRecord) -> None:
    """Untag every tag of the image (the last untag deletes it); never forced."""
    for tag in record.tags:
        api.remove_image(tag)
    if not record.tags:
        api.remove_image(record.image_id)
