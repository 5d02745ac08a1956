"""Read an MIT `FILE:` ticket cache (format versions 3 and 4): whose tickets it holds and when
they end, from the file itself. `klist` prints dates in the locale's format (two-digit years in
the C locale); the file carries plain epoch seconds, so expiry is read here, exactly.

Standard library only: the kerberos-sidecar image runs this file with Debian's python3.
Format: https://web.mit.edu/kerberos/krb5-latest/doc/formats/ccache_file_format.html
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

CONFIG_REALM = "X-CACHECONF:"  # entries krb5 stores as settings, not tickets


class CacheError(Exception):
    """The cache is missing or not a FILE ccache this reader understands."""


@dataclass(frozen=True)
class Credential:
    client: str
    server: str
    start: int  # epoch seconds
    end: int

    @property
    def is_tgt(self) -> bool:
        return self.server.startswith("krbtgt/")


@dataclass(frozen=True)
class Cache:
    principal: str
    credentials: tuple[Credential, ...]

    @property
    def realm(self) -> str:
        return self.principal.rpartition("@")[2]

    @property
    def primary(self) -> str:
        """The principal without instance and realm (alice/admin@R → alice): the database role
        a GSSAPI login with `include_realm=0` maps it to."""
        return self.principal.split("@")[0].split("/")[0]

    @property
    def expires(self) -> int | None:
        """When the ticket-granting ticket (else the first ticket) ends; None when empty."""
        tickets = [c for c in self.credentials if c.is_tgt] or list(self.credentials)
        return max(c.end for c in tickets) if tickets else None


def file_path(name: str) -> Path:
    """The file of a cache name (`FILE:/krb/ccache` or a bare path); CacheError for others."""
    kind, sep, rest = name.partition(":")
    if not sep or "/" in kind:
        return Path(name)
    if kind.upper() != "FILE":
        raise CacheError(f"{kind.upper()}: caches cannot be read as a file")
    return Path(rest)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise CacheError("the cache file is truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def octets(self) -> bytes:
        return self.take(self.u32())

    def principal(self) -> str:
        self.u32()  # name type
        count = self.u32()
        realm = self.octets().decode(errors="replace")
        parts = [self.octets().decode(errors="replace") for _ in range(count)]
        return f"{'/'.join(parts)}@{realm}"

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def parse(data: bytes) -> Cache:
    reader = _Reader(data)
    version = reader.u16()
    if version not in (0x0503, 0x0504):
        raise CacheError(f"unsupported ccache format 0x{version:04x}")
    if version == 0x0504:
        reader.take(reader.u16())  # header tags (e.g. the KDC time offset)
    principal = reader.principal()
    credentials = []
    while not reader.done:
        client, server = reader.principal(), reader.principal()
        reader.u16()
        if version == 0x0503:
            reader.u16()
        reader.octets()  # session key
        _auth, start, end, _renew = (reader.u32() for _ in range(4))
        reader.u8()
        reader.u32()  # flags
        for _ in range(reader.u32()):  # addresses
            reader.u16()
            reader.octets()
        for _ in range(reader.u32()):  # authorization data
            reader.u16()
            reader.octets()
        reader.octets()
        reader.octets()  # ticket, second ticket
        if not server.endswith("@" + CONFIG_REALM):
            credentials.append(Credential(client, server, start, end))
    return Cache(principal, tuple(credentials))


def read(name: str) -> Cache:
    path = file_path(name)
    try:
        return parse(path.read_bytes())
    except FileNotFoundError:
        raise CacheError(f"no ticket cache at {path}") from None
    except OSError as exc:
        raise CacheError(f"cannot read {path}: {exc.strerror}") from None
