"""The one edge between user errors and doit: every python-action of every task goes through
`action`, so a user's error it raises (`errors.as_user_error`: a `UserError`, or an error the
Docker engine answered) becomes the task's failure — rendered by the reporter as
one line, `✗ task: message — fix`, with no traceback — instead of a doit traceback. Anything
else escaping is a bug and keeps its traceback.

It is also where an action waits for its turn (`build.jobs`): one whose callable is not
`concurrent` runs alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from doit.exceptions import TaskFailed

from dataplatform.build import jobs
from dataplatform.errors import UserError, as_user_error


class Action:
    """A task's python-action: `fn(*args, **kwargs)`, a user's error turned into `TaskFailed`."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> Any:
        try:
            with jobs.slot(getattr(self.fn, "concurrent", False)):
                return self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            user_error = as_user_error(exc)
            if user_error is None:
                raise
            return TaskFailed(str(user_error))

    def __repr__(self) -> str:
        return f"action({getattr(self.fn, '__name__', type(self.fn).__name__)})"


def action(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Action:
    """What a task creator puts in `actions`: `action(fn, *args)` instead of `fn` or
    `(fn, args)`."""
    return Action(fn, *args, **kwargs)


def _raise(error: UserError) -> None:
    raise error


def failing(error: UserError) -> Action:
    """The action of a task that can only fail: a problem found while creating the tasks that
    belongs to this one task (its pipeline's file), reported when it runs."""
    return Action(_raise, error)
