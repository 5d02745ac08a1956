"""The connection to the Docker engine: one per process, checked once, with a readable reason.

`DOCKER_HOST` and friends are honoured (docker-py's `from_env`). A missing engine is an
`EngineUnavailable` whose reason says where we looked and what answered.
"""

from __future__ import annotations

import os
import threading

import docker
import docker.errors

from dataplatform.errors import EngineUnavailable

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
