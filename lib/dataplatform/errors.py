"""The errors a user can fix: each renders as one line, never with a traceback.

Everything the toolkit reports to a person about their own input (a YAML file, a build context,
a missing engine) is a `UserError`. Anything else escaping is a bug in the toolkit and keeps its
traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake or missing prerequisite the user can fix: what is wrong (`message`) and, when
    known, what to do about it (`fix`). `str()` is the whole line, `message — fix`; the edges
    (`cli.common.one_line_errors`, `build.actions.action`) show it as `✗ …` without traceback.
    """

    def __init__(self, message: str = "", fix: str = ""):
        self.message = message
        self.fix = fix
        super().__init__(f"{message} — {fix}" if fix else message)


class ConfigError(UserError):
    """A problem in a file the user wrote, located by file, line and key."""

    def __init__(self, file: str, line: int | None, key: str, problem: str, fix: str = ""):
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}", fix)


class ImageError(UserError):
    """A problem with one declared image (its context, Dockerfile or build)."""

    def __init__(self, image: str, message: str, fix: str = ""):
        self.image = image
        super().__init__(f"image:{image}: {message}", fix)


class EngineUnavailable(UserError):
    """No Docker engine answers; `reason` says where we looked and what happened there, `fix`
    what to do about that cause (the message carries both, so every edge shows the fix)."""

    def __init__(self, reason: str, fix: str = ""):
        self.reason = reason
        super().__init__(f"Docker engine not reachable: {reason}", fix)


def as_user_error(exc: BaseException) -> UserError | None:
    """`exc` as the user sees it, or None for a bug (which keeps its traceback). Both edges
    (doit actions and invoke commands) ask here, so an error renders the same way from either:
    a `UserError` as it is; an error the Docker engine answered (the docker SDK's, looked up
    only when the SDK was imported at all — most commands never do) as one line with its
    explanation."""
    if isinstance(exc, UserError):
        return exc
    import sys

    docker_errors = sys.modules.get("docker.errors")
    if docker_errors is not None and isinstance(exc, docker_errors.DockerException):
        detail = getattr(exc, "explanation", None) or str(exc)
        return UserError(f"Docker engine error: {detail}")
    return None
