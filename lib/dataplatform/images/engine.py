"""The connection to the Docker engine: which one, one connection per process, and why not.

Which engine is resolved the way the docker CLI resolves it, so the toolkit talks to the engine
`docker info` talks to: `DOCKER_HOST`, else the context `DOCKER_CONTEXT` names, else the
`currentContext` that `docker context use` stored in the CLI's `config.json` (in
`$DOCKER_CONFIG`, default `~/.docker`), else the default socket. A context's endpoint and TLS
material are read from the CLI's context store (`contexts/meta|tls/<sha256 of name>/`).

A missing engine is an `EngineUnavailable` that names the endpoint, where that choice came
from, the cause (no socket, engine stopped, permission, host name, timeout, TLS, not a Docker
engine, no ssh client, unknown context) and the fix for that cause.

The no-op path of `doit` only needs one inspect of each image it declares; on a local unix
socket that is a plain HTTP request, so a no-op never pays for importing the docker SDK (a
tenth of a second).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataplatform.errors import EngineUnavailable, UserError

if TYPE_CHECKING:
    import docker

_lock = threading.Lock()
_client: docker.DockerClient | None = None
_failure: EngineUnavailable | None = None
_endpoint: Endpoint | None = None

PING_TIMEOUT_S = 5
API_TIMEOUT_S = 600
DEFAULT_HOST = "unix:///var/run/docker.sock"
START = "start Docker (Docker Desktop, `sudo systemctl start docker`, or `dockerd &`)"


@dataclass(frozen=True)
class Endpoint:
    """Where the engine should be, and which setting chose it (for messages)."""

    host: str
    origin: str
    setting: str  # what to change to point at another engine
    tls: Any = None  # docker.tls.TLSConfig of a context with TLS material
    from_environment: bool = False  # DOCKER_HOST (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH)

    @property
    def socket_path(self) -> str | None:
        return self.host.removeprefix("unix://") if self.host.startswith("unix://") else None

    @property
    def shown(self) -> str:
        return f"{self.host} ({self.origin})"


def config_dir() -> Path:
    """The docker CLI's configuration directory (`$DOCKER_CONFIG`, default `~/.docker`)."""
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _context_name() -> tuple[str, str]:
    """The current context's name and what made it current."""
    name = os.environ.get("DOCKER_CONTEXT")
    if name:
        return name, "DOCKER_CONTEXT"
    path = config_dir() / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}  # like the CLI: an unreadable config is no context
    name = data.get("currentContext") if isinstance(data, dict) else None
    if isinstance(name, str) and name:
        return name, f"currentContext in {path}"
    return "default", ""


def _context_tls(identifier: str, docker_endpoint: dict[str, Any]) -> Any:
    directory = config_dir() / "contexts" / "tls" / identifier / "docker"
    if not directory.is_dir():
        return None
    from docker.tls import TLSConfig

    files = {name.split(".")[0]: str(directory / name) for name in os.listdir(directory)}
    skip = bool(docker_endpoint.get("SkipTLSVerify", False))
    cert = (files["cert"], files["key"]) if "cert" in files and "key" in files else None
    return TLSConfig(client_cert=cert, ca_cert=files.get("ca"), verify=not skip)


def resolve() -> Endpoint:
    """The endpoint the docker CLI would use; an unknown context is an EngineUnavailable."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return Endpoint(host, "DOCKER_HOST", "DOCKER_HOST", from_environment=True)
    name, origin = _context_name()
    setting = (
        "DOCKER_CONTEXT"
        if origin == "DOCKER_CONTEXT"
        else "the docker context (`docker context use NAME`)"
        if origin
        else "DOCKER_HOST or the docker context"
    )
    if name == "default":
        return Endpoint(
            DEFAULT_HOST,
            f"context default from {origin}" if origin else "the default socket",
            setting,
        )
    shown = f"docker context {name!r} from {origin}"
    identifier = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta = config_dir() / "contexts" / "meta" / identifier / "meta.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        docker_endpoint = data["Endpoints"]["docker"]
    except FileNotFoundError:
        raise EngineUnavailable(
            f"{shown} does not exist in {config_dir()}",
            f"`docker context ls` lists the contexts; `docker context use NAME`"
            f"{', or unset DOCKER_CONTEXT' if origin == 'DOCKER_CONTEXT' else ''}",
        ) from None
    except (OSError, ValueError, KeyError, TypeError):
        raise EngineUnavailable(
            f"{shown} has no readable docker endpoint in {meta}",
            f"recreate it: docker context rm {name} && docker context create …",
        ) from None
    return Endpoint(
        docker_endpoint.get("Host") or DEFAULT_HOST,
        shown,
        setting,
        _context_tls(identifier, docker_endpoint),
    )


def endpoint() -> Endpoint:
    """`resolve()`, once per process (forgotten by `reset()`)."""
    global _endpoint
    if _endpoint is None:
        _endpoint = resolve()
    return _endpoint


def _ssh_binary(where: Endpoint) -> bool:
    """How the SDK reaches an ssh:// engine. The docker SDK's ssh transport needs Python's
    paramiko package (a missing one is a clear error, not "nothing answers"); with it, OpenSSH's
    `ssh` is run when present, as the docker CLI does (your ~/.ssh/config and agent)."""
    if not where.host.startswith("ssh://"):
        return False
    try:
        import paramiko  # noqa: F401
    except ImportError:
        raise EngineUnavailable(
            f"{where.shown} is an ssh:// endpoint, which the docker SDK reaches only with "
            "Python's paramiko package, and it is not installed (the docker CLI runs ssh "
            "itself, so `docker info` may work)",
            'pip install paramiko (or "docker[ssh]") into this environment',
        ) from None
    return shutil.which("ssh") is not None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps (requests → urllib3 → OSError)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *current.args,
        ]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def classify(exc: BaseException, where: Endpoint) -> EngineUnavailable:
    """The real cause of a failed connection, with the fix for that cause."""
    causes = list(_causes(exc))
    text = " ".join(str(c) for c in causes)
    codes = {getattr(c, "errno", None) for c in causes}
    path = where.socket_path
    status = next(
        (
            c.response.status_code
            for c in causes
            if getattr(getattr(c, "response", None), "status_code", None)
        ),
        None,
    )
    if status is not None:
        return EngineUnavailable(
            f"{where.shown} answers, but not as a Docker engine (HTTP {status})",
            f"point {where.setting} at the engine's socket",
        )
    if any(isinstance(c, ssl.SSLError) for c in causes) or "SSL" in text:
        return EngineUnavailable(
            f"TLS with {where.shown} failed ({_first_line(exc)})",
            "check DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, or the "
            "context's TLS material (docker context inspect)",
        )
    start = (
        START
        if where.setting == "DOCKER_HOST or the docker context"
        else (f"{START}, or point {where.setting} at a running engine")
    )
    if path is not None and (errno.ENOENT in codes or "No such file" in text):
        return EngineUnavailable(
            f"no engine socket at {where.shown}: the engine is not running", start
        )
    if path is not None and (errno.EACCES in codes or "Permission denied" in text):
        return EngineUnavailable(
            f"permission denied on {where.shown}",
            "add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in "
            "again), or use rootless Docker",
        )
    if errno.ECONNREFUSED in codes or "Connection refused" in text:
        if path is not None:
            return EngineUnavailable(
                f"{where.shown} exists, but no engine listens on it: the engine stopped", start
            )
        return EngineUnavailable(
            f"nothing listens at {where.shown}", f"start the engine there, or fix {where.setting}"
        )
    if any(isinstance(c, socket.gaierror) for c in causes) or any(
        marker in text
        for marker in (
            "Name or service not known",
            "not resolve",
            "nodename nor servname",
            "name resolution",
        )
    ):
        host = urllib.parse.urlsplit(where.host).hostname or where.host
        return EngineUnavailable(
            f"the host name {host!r} of {where.shown} does not resolve",
            f"fix the host name in {where.setting}, or check DNS/VPN",
        )
    if any(isinstance(c, TimeoutError) for c in causes) or "timed out" in text:
        return EngineUnavailable(
            f"{where.shown} did not answer within {PING_TIMEOUT_S} s",
            "check the address, VPN and firewall, or that the engine there is not overloaded",
        )
    if where.host.startswith("ssh://"):
        return EngineUnavailable(
            f"ssh to {where.shown} failed ({_first_line(exc)})",
            f"check that `ssh {where.host.removeprefix('ssh://')} docker "
            "version` works (key, host, docker on the remote)",
        )
    return EngineUnavailable(
        f"{where.shown}: {_first_line(exc)}", "`docker info` shows what the docker CLI sees there"
    )


def _connect(where: Endpoint) -> docker.DockerClient:
    import docker

    use_ssh_client = _ssh_binary(where)
    if where.from_environment:  # DOCKER_TLS_VERIFY / DOCKER_CERT_PATH come with DOCKER_HOST
        return docker.from_env(timeout=PING_TIMEOUT_S, use_ssh_client=use_ssh_client)
    return docker.DockerClient(
        base_url=where.host,
        tls=where.tls or False,
        timeout=PING_TIMEOUT_S,
        use_ssh_client=use_ssh_client,
    )


def client() -> docker.DockerClient:
    """The shared client; raises `EngineUnavailable` (the same one every time) if none answers."""
    global _client, _failure
    with _lock:
        if _client is not None:
            return _client
        if _failure is not None:
            raise _failure
        try:
            where = endpoint()
            candidate = _connect(where)
            if not candidate.ping():
                raise EngineUnavailable(
                    f"{where.shown} answers /_ping, but not with OK",
                    f"point {where.setting} at a Docker engine",
                )
            candidate.api.timeout = API_TIMEOUT_S
            _client = candidate
            return candidate
        except EngineUnavailable as exc:
            _failure = exc
        except Exception as exc:  # docker, requests and urllib3 errors alike
            _failure = classify(exc, endpoint())
        raise _failure


def reset() -> None:
    """Forget the connection (tests that change DOCKER_HOST within one process)."""
    global _client, _failure, _endpoint
    with _lock:
        _client = None
        _failure = None
        _endpoint = None


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _query(params: dict[str, Any] | None) -> str:
    """A query string as the engine reads it (mappings such as `filters` as JSON)."""
    return urllib.parse.urlencode(
        {
            key: json.dumps(value) if isinstance(value, dict) else value
            for key, value in (params or {}).items()
        }
    )


def get_json(
    path: str,
    params: dict[str, Any] | None = None,
    missing_ok: bool = False,
    timeout: float = API_TIMEOUT_S,
) -> Any:
    """`GET path` of the engine API, decoded (through `call`, so a read-only command such as
    `invoke status` never imports the docker SDK on a local socket). `missing_ok`: None for a
    404 (a container that went away between a listing and its inspection)."""
    status, body = call("GET", path, params, timeout)
    if missing_ok and status == 404:
        return None
    if status != 200:
        raise UserError(
            f"Docker engine error on GET {path}: HTTP {status} "
            f"{body[:200].decode(errors='replace')}"
        )
    return json.loads(body)


def _where() -> Endpoint:
    """The engine's endpoint; a failure to find it is remembered for the rest of the process."""
    global _failure
    if _failure is not None:
        raise _failure
    try:
        return endpoint()
    except EngineUnavailable as exc:
        with _lock:
            _failure = exc
        raise


def _on_socket(
    where: Endpoint, method: str, target: str, timeout: float | None
) -> tuple[int, bytes]:
    """One plain HTTP request on the engine's local unix socket, the whole body read."""
    global _failure
    assert where.socket_path is not None
    connection = _UnixHTTPConnection(where.socket_path, timeout)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as exc:
        with _lock:
            _failure = classify(exc, where)
        raise _failure from None
    finally:
        connection.close()


def call(
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    timeout: float | None = API_TIMEOUT_S,
) -> tuple[int, bytes]:
    """`METHOD path` of the engine API, the whole body read: (status, body). Plain HTTP on a
    local unix socket (no docker SDK: `down` and `restart` stop, wait for and remove
    containers this way); through the SDK's session for any other endpoint. `timeout` None
    waits as long as the engine takes (`/containers/{id}/wait`)."""
    where = _where()
    query = _query(params)
    if where.socket_path is None:
        api = client().api
        response = api.request(
            method, api._url(path), timeout=timeout, params=dict(urllib.parse.parse_qsl(query))
        )
        return response.status_code, response.content
    return _on_socket(where, method, f"{path}?{query}" if query else path, timeout)


def post(
    path: str, params: dict[str, str], timeout: float = API_TIMEOUT_S
) -> tuple[int, bytes] | None:
    """`POST path` on a local unix socket, the whole (streamed) body read: (status, body).
    None for any other endpoint (the caller then leaves the work to the docker SDK)."""
    if _where().socket_path is None:
        return None
    return call("POST", path, params, timeout)
