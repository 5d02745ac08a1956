"""Build one image from its fingerprinted context with a condensed, streaming log.

One line per Dockerfile step is shown as it starts; each step's own output is kept in a short
ring buffer and only shown when that step fails, together with the engine's error. The user's
Dockerfile is built as it is; the image's labels are added afterwards without a build step
(images/labelling.py).
"""

from __future__ import annotations

import collections
import re
import tempfile
from collections.abc import Callable

import docker.errors

from dataplatform.errors import ImageError
from dataplatform.images import labelling
from dataplatform.images.context import write_context
from dataplatform.images.fingerprint import Fingerprint
from dataplatform.images.presence import NETWORK_FAILURES as _NETWORK_FAILURES
from dataplatform.images.spec import ImageSpec

TAIL_LINES = 15
STEP_WIDTH = 110
_SUCCESS = re.compile(r"^Successfully built ([0-9a-f]+)$")

Log = Callable[[str], None]
SENT: collections.Counter[str] = collections.Counter()  # build contexts sent, by image name


class BuildFailed(ImageError):
    """The engine rejected the build; the message holds the failing step and its last lines."""


class BaseImageUnreachable(BuildFailed):
    """A FROM image is not on the engine and its registry cannot be reached (offline)."""

    def __init__(self, image: str, message: str, base: str):
        super().__init__(image, message)
        self.base = base


_PULL_FAILURES = ("pull access denied", "manifest unknown", "repository does not exist")
_FROM = re.compile(r"^Step \d+/\d+ : FROM\s+(?:--\S+\s+)*(\S+)", re.I)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$", re.I)
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def base_reference(spec: ImageSpec, step: str) -> str:
    """The image a `FROM` step names, with build args and ARG defaults substituted."""
    match = _FROM.match(step)
    if not match:
        return step
    values: dict[str, str] = {}
    try:
        for line in spec.dockerfile.read_text(errors="replace").splitlines():
            arg = _ARG.match(line)
            if arg and arg.group(2) is not None:
                values.setdefault(arg.group(1), arg.group(2))
    except OSError:
        pass
    values.update(dict(spec.args))
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), match.group(1))


def _failure(spec: ImageSpec, step: str | None, error: str, tail: list[str]) -> BuildFailed:
    where = f"build failed at {step}" if step else "build failed"
    is_from = bool(step and _FROM.match(step))
    offline = is_from and any(m in error for m in _NETWORK_FAILURES)
    hint = ""
    if offline or (is_from and any(m in error for m in _PULL_FAILURES)):
        hint = (
            " — the base image is not on this engine and cannot be pulled: pull or build "
            "it first, or point the FROM (or its build arg) at one that is"
        )
    lines = [f"{where}: {error.strip()}{hint}"]
    if tail:
        lines.append(f"last {len(tail)} line(s) of that step:")
        lines.extend(f"    {line}" for line in tail)
    if offline and step:
        return BaseImageUnreachable(spec.name, "\n".join(lines), base_reference(spec, step))
    return BuildFailed(spec.name, "\n".join(lines))


def build_image(
    api: docker.APIClient,
    spec: ImageSpec,
    fingerprint: Fingerprint,
    labels: dict[str, str],
    log: Log,
) -> str:
    """Build and return the ID of the image carrying `labels`; untagged, so a failure leaves no
    fingerprint tag."""
    step: str | None = None
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    image_id: str | None = None
    with tempfile.TemporaryFile(prefix="dataplatform-context-") as tar:
        dockerfile_name = write_context(spec, fingerprint, tar)
        tar.seek(0)
        SENT[spec.name] += 1
        try:
            stream = api.build(
                fileobj=tar,
                custom_context=True,
                dockerfile=dockerfile_name,
                target=spec.target,
                buildargs=dict(spec.args),
                network_mode=spec.network,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                use_config_proxy=False,
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = chunk.get("errorDetail") or {}
                    raise _failure(spec, step, detail.get("message") or chunk["error"], list(tail))
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = aux["ID"]
                for raw in (chunk.get("stream") or "").splitlines():
                    line = raw.rstrip()
                    if not line:
                        continue
                    if line.startswith("Step "):
                        step = line if len(line) <= STEP_WIDTH else line[: STEP_WIDTH - 1] + "…"
                        tail.clear()
                        log(step)
                    elif match := _SUCCESS.match(line):
                        image_id = image_id or match.group(1)
                    elif not line.startswith(" ---> "):
                        tail.append(line)
        except docker.errors.APIError as exc:
            message = exc.explanation or str(exc)
            raise _failure(spec, step, message, list(tail)) from None
    if not image_id:
        raise _failure(spec, step, "the engine reported no image ID", list(tail))
    return labelling.add_labels(api, image_id, labels)
