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
import os
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


def write_context(spec: ImageSpec, fingerprint: Fingerprint, out: BinaryIO) -> str:
    """Write the context tar to `out`; return the Dockerfile's name inside it."""
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
                    tar.addfile(
                        _info(relpath, tarfile.REGTYPE, mode, st.st_size, st.st_mtime), reader
                    )
            except (OSError, tarfile.TarError) as exc:
                raise ImageError(
                    spec.name,
                    f"{source} changed or vanished while it was sent to "
                    f"the engine ({exc}) — run doit again",
                ) from None
            if expected is not None and reader.digest.hexdigest() != expected:
                raise ImageError(
                    spec.name, f"{source} changed while it was sent to the engine — run doit again"
                )

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

        # The Dockerfile travels as it is, under a content-derived name hidden from COPY by
        # .dockerignore, as the CLI does for a Dockerfile from outside the context (labels are
        # added after the build, without a build step: images/labelling.py).
        try:
            original = spec.dockerfile.read_bytes()
        except OSError as exc:
            raise ImageError(spec.name, f"cannot read {spec.dockerfile} ({exc.strerror})") from None
        if hashlib.sha256(original).hexdigest() != fingerprint.dockerfile_digest:
            raise ImageError(
                spec.name, f"{spec.dockerfile} changed while the build started — run doit again"
            )
        dockerfile_name = f".dockerfile.{fingerprint.short}"
        tar.addfile(
            _info(dockerfile_name, tarfile.REGTYPE, 0o644, len(original)), io.BytesIO(original)
        )

        if ".dockerignore" in names:
            ignore_text = (context / ".dockerignore").read_bytes()
        else:
            ignore_text = b".dockerignore\n"  # absent or excluded: the engine removes it
            if dockerfile_rel and dockerfile_rel not in names:
                ignore_text += dockerfile_rel.encode() + b"\n"
        data = ignore_text.rstrip(b"\n") + b"\n" + dockerfile_name.encode() + b"\n"
        tar.addfile(_info(".dockerignore", tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return dockerfile_name
