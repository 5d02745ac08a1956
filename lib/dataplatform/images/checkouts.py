"""Which image each checkout uses as current, recorded on the engine itself.

Images are content-addressed and every clone of the project that talks to one engine shares
them: the project label is a namespace, not an owner. So "superseded here" does not mean
"unused": a clone on another branch may still use that image as its current one. Each checkout
therefore marks the image it currently uses with a tag of its own,
`dataplatform-current/<image>:<checkout id>`, which every `doit` that makes an image current
moves (a tag names one image at a time). `invoke cache.clean` never removes an image that
another live checkout marks.

The checkout id hashes the host name and the checkout's path. A per-user index
(`$XDG_STATE_HOME/dataplatform/checkouts/<id>.json`, default `~/.local/state`) maps an id back
to its path, so a clean can tell a deleted checkout (its marks protect nothing) from a live one.
A mark whose checkout is not in this index (another user or another machine on a shared
engine) is treated as live: there is no way to tell that it is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dataplatform import fsutil, labels


@cache
def checkout_id(root: Path) -> str:
    """12 hex digits naming the checkout at `root` on this host."""
    text = f"{socket.gethostname()}\0{Path(root).resolve()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mark_repository(image_name: str) -> str:
    return f"{labels.CURRENT_MARK}/{image_name}"


def mark_reference(image_name: str, checkout: str) -> str:
    return f"{mark_repository(image_name)}:{checkout}"


def parse_mark(tag: str) -> tuple[str, str] | None:
    """`dataplatform-current/<image>:<id>` → (image, id); None for any other tag."""
    prefix = labels.CURRENT_MARK + "/"
    if not tag.startswith(prefix) or ":" not in tag:
        return None
    image, _, checkout = tag[len(prefix) :].rpartition(":")
    return image, checkout


def index_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dataplatform" / "checkouts"


def register(root: Path) -> None:
    """Record this checkout's id → path in the per-user index (once; best effort: a checkout
    missing from the index only makes its marks count as live everywhere)."""
    root = Path(root).resolve()
    entry = index_dir() / f"{checkout_id(root)}.json"
    if entry.exists():
        return
    with contextlib.suppress(OSError):  # several image tasks may register at once
        fsutil.write_atomic(entry, json.dumps({"host": socket.gethostname(), "path": str(root)}))


def mark(api, image_id: str, image_name: str, root: Path) -> None:
    """Make `image_id` the image the checkout at `root` uses as current for `image_name`."""
    register(root)
    api.tag(image_id, mark_repository(image_name), checkout_id(root))


@dataclass(frozen=True)
class Checkout:
    id: str
    path: Path | None  # None: not in this machine's index (another user or machine)
    live: bool

    def describe(self) -> str:
        if self.path is None:
            return f"checkout {self.id} (not known on this machine)"
        return f"checkout {self.path}"


def _looks_like_checkout(path: Path) -> bool:
    return (path / "dodo.py").is_file() and (path / "platform").is_dir()


def lookup(checkout: str) -> Checkout:
    """Whether the checkout behind an id still exists, as far as this machine can tell."""
    entry = index_dir() / f"{checkout}.json"
    try:
        recorded = json.loads(entry.read_text())
        host, path = recorded["host"], Path(recorded["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return Checkout(checkout, None, live=True)
    if host != socket.gethostname():
        return Checkout(checkout, None, live=True)
    return Checkout(checkout, path, live=_looks_like_checkout(path))
