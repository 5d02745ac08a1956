"""Stream exactly the fingerprinted files to the engine as a build-context tar.

The tar holds the files the fingerprint covers (owner 0:0, mode 0644 or 0755), plus what the
engine needs to read, as the docker CLI sends them: `.dockerignore` and the Dockerfile (one lying
outside the context travels under a content-derived name that `.dockerignore` hides, as the CLI
does). Every file is re-hashed while it is written; if one changed since it was fingerprinted
the build stops, so an image can never carry a tag its content does not match.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from dataplatform.errors import ImageError
from dataplatform.images.fingerprint import Fingerprint
from dataplatform.images.spec import ImageSpec


class _HashingReader:
    """A file wrapper that hashes what tarfile reads through it."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _info(name: str, kind: bytes, mode: int, size: int = 0, mtime: float = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = int(mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


_ESCAPE_DIRECTIVE = re.compile(r"^#\s*escape\s*=\s*(\S)\s*$", re.I)
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?\s*$", re.I)


def _escape_character(lines: list[str]) -> str:
    """The continuation character: `\\`, or what a leading `# escape=` directive sets."""
    for line in lines:
        match = _ESCAPE_DIRECTIVE.match(line.strip())
        if match:
            return match.group(1)
        if not line.strip().startswith("#"):
            break
    return "\\"


def with_labels(dockerfile: str, target: str | None, labels: dict[str, str]) -> str:
    """`dockerfile` with one LABEL instruction ending the `target` stage (default: the last)."""
    if not labels:
        return dockerfile
    label = "LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}"
                                for k, v in sorted(labels.items())) + "\n"
    lines = dockerfile.splitlines(keepends=True)
    escape = _escape_character(lines)
    stages: list[tuple[int, str | None]] = []  # (line index of FROM, stage name)
    continued = False
    for index, raw in enumerate(lines):
        content = raw.strip()
        if not content or content.startswith("#"):
            continue
        if not continued and (match := _FROM.match(content)):
            stages.append((index, match.group(1)))
        continued = content.endswith(escape)
    insert_at = len(lines)
    if target is not None:
        for position, (_, name) in enumerate(stages):
            if name and name.lower() == target.lower() and position + 1 < len(stages):
                insert_at = stages[position + 1][0]
                break
    head = lines[:insert_at]
    if head and not head[-1].endswith("\n"):
        head[-1] += "\n"
    return "".join([*head, label, *lines[insert_at:]])


def write_context(spec: ImageSpec, fingerprint: Fingerprint, out: BinaryIO,
                  labels: dict[str, str] | None = None) -> str:
    """Write the context tar to `out`; return the Dockerfile's name inside it."""
    labels = labels or {}
    context = Path(spec.context)
    dirs_done: set[str] = set()
    try:
        dockerfile_rel = spec.dockerfile.relative_to(context).as_posix()
    except ValueError:
        dockerfile_rel = None
    names = {f.relpath for f in fingerprint.files}

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add_parents(relpath: str) -> None:
            for parent in reversed(PurePosixPath(relpath).parents[:-1]):
                key = parent.as_posix()
                if key not in dirs_done:
                    dirs_done.add(key)
                    tar.addfile(_info(key, tarfile.DIRTYPE, 0o755))

        def add_file(relpath: str, source: Path, mode: int, expected: str | None) -> None:
            add_parents(relpath)
            try:
                with open(source, "rb") as handle:
                    st = os.fstat(handle.fileno())
                    reader = _HashingReader(handle)
                    tar.addfile(_info(relpath, tarfile.REGTYPE, mode, st.st_size, st.st_mtime),
                                reader)
            except (OSError, tarfile.TarError) as exc:
                raise ImageError(spec.name, f"{source} changed or vanished while it was sent to "
                                 f"the engine ({exc}) — run doit again") from None
            if expected is not None and reader.digest.hexdigest() != expected:
                raise ImageError(spec.name, f"{source} changed while it was sent to the engine "
                                 "— run doit again")

        for f in fingerprint.files:
            if f.relpath == ".dockerignore":
                continue  # sent below, extended to hide the generated Dockerfile
            source = context / f.relpath
            if f.kind == "link":
                add_parents(f.relpath)
                info = _info(f.relpath, tarfile.SYMTYPE, 0o777)
                info.linkname = f.digest
                tar.addfile(info)
            else:
                add_file(f.relpath, source, 0o755 if f.executable else 0o644, f.digest)

        # The Dockerfile travels under a content-derived name, with the image's labels added as
        # one LABEL instruction of the target stage (one build step, where the API's `labels`
        # parameter costs one step per label), hidden from COPY by .dockerignore as the CLI
        # does for a Dockerfile from outside the context.
        try:
            original = spec.dockerfile.read_bytes()
        except OSError as exc:
            raise ImageError(spec.name, f"cannot read {spec.dockerfile} ({exc.strerror})") from None
        if hashlib.sha256(original).hexdigest() != fingerprint.dockerfile_digest:
            raise ImageError(spec.name, f"{spec.dockerfile} changed while the build started "
                             "— run doit again")
        text = with_labels(original.decode("utf-8", "surrogateescape"), spec.target, labels)
        data = text.encode("utf-8", "surrogateescape")
        dockerfile_name = f".dockerfile.{fingerprint.short}"
        tar.addfile(_info(dockerfile_name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))

        if ".dockerignore" in names:
            ignore_text = (context / ".dockerignore").read_bytes()
        else:
            ignore_text = b".dockerignore\n"  # absent or excluded: the engine removes it
            if dockerfile_rel and dockerfile_rel not in names:
                ignore_text += dockerfile_rel.encode() + b"\n"
        data = ignore_text.rstrip(b"\n") + b"\n" + dockerfile_name.encode() + b"\n"
        tar.addfile(_info(".dockerignore", tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return dockerfile_name
