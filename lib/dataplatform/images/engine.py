"""The connection to the Docker engine: one per process, checked once, with a readable reason.

`DOCKER_HOST` and friends are honoured (docker-py's `from_env`). A missing engine is an
`EngineUnavailable` whose reason says where we looked and what answered.

The no-op path of `doit` only needs one listing of images; on a local unix socket that is one
plain HTTP request, so a no-op never pays for importing the docker SDK (a tenth of a second).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from dataplatform.errors import EngineUnavailable, UserError

if TYPE_CHECKING:
    import docker

_lock = threading.Lock()
_client: docker.DockerClient | None = None
_failure: EngineUnavailable | None = None

PING_TIMEOUT_S = 5
API_TIMEOUT_S = 600


def _where() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("No such file or directory", "Connection refused", "Permission denied",
                   "timed out", "Name or service not known"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def client() -> docker.DockerClient:
    """The shared client; raises `EngineUnavailable` (the same one every time) if none answers."""
    global _client, _failure
    import docker
    import docker.errors

    with _lock:
        if _client is not None:
            return _client
        if _failure is not None:
            raise _failure
        try:
            candidate = docker.from_env(timeout=PING_TIMEOUT_S)
            candidate.ping()
            candidate.api.timeout = API_TIMEOUT_S
            _client = candidate
            return candidate
        except docker.errors.DockerException as exc:
            _failure = EngineUnavailable(f"nothing answers at {_where()} ({_short(exc)})")
        except Exception as exc:  # requests/urllib3 errors surface raw from ping
            _failure = EngineUnavailable(f"nothing answers at {_where()} ({_short(exc)})")
        raise _failure


def reset() -> None:
    """Forget the connection (tests that change DOCKER_HOST within one process)."""
    global _client, _failure
    with _lock:
        _client = None
        _failure = None


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _unix_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST")
    if not host:
        return "/var/run/docker.sock"
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def list_images(label: str) -> list[dict[str, Any]]:
    """The engine's images carrying `label` (like `docker images --filter label=…`)."""
    global _failure
    path = _unix_socket()
    if path is None:
        return client().api.images(filters={"label": label})
    if _failure is not None:
        raise _failure
    query = urllib.parse.urlencode({"filters": json.dumps({"label": [label]})})
    connection = _UnixHTTPConnection(path, PING_TIMEOUT_S)
    try:
        connection.request("GET", f"/images/json?{query}")
        response = connection.getresponse()
        body = response.read()
    except OSError as exc:
        with _lock:
            _failure = EngineUnavailable(f"nothing answers at {_where()} ({_short(exc)})")
        raise _failure from None
    finally:
        connection.close()
    if response.status != 200:
        raise UserError(f"Docker engine error listing images: HTTP {response.status} "
                        f"{body[:200].decode(errors='replace')}")
    return json.loads(body)
