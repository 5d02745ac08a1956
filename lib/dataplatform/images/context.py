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
    extra_ignore: list[str] = []
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
            if f.relpath == ".dockerignore" and dockerfile_rel is None:
                continue  # sent below, extended to hide the Dockerfile
            source = context / f.relpath
            if f.kind == "link":
                add_parents(f.relpath)
                info = _info(f.relpath, tarfile.SYMTYPE, 0o777)
                info.linkname = f.digest
                tar.addfile(info)
            else:
                add_file(f.relpath, source, 0o755 if f.executable else 0o644, f.digest)

        if dockerfile_rel is None:
            dockerfile_name = f".dockerfile.{fingerprint.dockerfile_digest[:20]}"
            extra_ignore.append(dockerfile_name)
            add_file(dockerfile_name, spec.dockerfile, 0o644, fingerprint.dockerfile_digest)
        else:
            dockerfile_name = dockerfile_rel
            if dockerfile_rel not in names:  # excluded by .dockerignore: the engine removes it
                add_file(dockerfile_rel, spec.dockerfile, 0o644, fingerprint.dockerfile_digest)

        ignore_path = context / ".dockerignore"
        if extra_ignore:
            try:
                text = ignore_path.read_bytes()
            except FileNotFoundError:
                text = b".dockerignore"
            data = text + b"\n" + "\n".join(extra_ignore).encode() + b"\n"
            tar.addfile(_info(".dockerignore", tarfile.REGTYPE, 0o644, len(data)),
                        io.BytesIO(data))
        elif ignore_path.is_file() and ".dockerignore" not in names:
            add_file(".dockerignore", ignore_path, 0o644, None)
    return dockerfile_name
