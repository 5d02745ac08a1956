"""The `doit` command this package installs: doit itself, finding `dodo.py` from any folder.

Plain doit looks for `dodo.py` in the current directory only, so `doit` from
`pipelines/<name>/` failed while `invoke` (which searches parent folders for `tasks.py`) worked.
doit's own `--seek-file` option (`-k`, environment `DOIT_SEEK_FILE`) searches the parent folders
and then runs from the folder of the `dodo.py` it found; this entry point turns it on by
default. `[tool.doit]` in pyproject.toml cannot do it: doit reads that file from the current
directory only, which is exactly where it is missing. `DOIT_SEEK_FILE=0` turns it off again.

It also turns Ctrl-C into one line and exit code 130 instead of a traceback from whichever thread or
socket read it interrupted. Actions run in doit's worker threads, which the interpreter kills at
exit without their cleanup, so after Ctrl-C no further action starts and the running ones get
`GRACE_S` to end (build.jobs `stop`).
"""

from __future__ import annotations

import os
import sys

SEEK_FILE = "DOIT_SEEK_FILE"
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
GRACE_S = 5.0  # how long running actions get to end after Ctrl-C (a second Ctrl-C cuts it)


MODULE = "dataplatform.build.doit_main"


def command() -> list[str]:
    """How the toolkit's own commands start this `doit` in a child process."""
    return [sys.executable, "-m", MODULE]


def main() -> None:
    os.environ.setdefault(SEEK_FILE, "1")
    from doit.__main__ import main as doit_main

    from dataplatform.build import jobs

    try:
        doit_main()
    except KeyboardInterrupt:
        try:
            still = jobs.stop(GRACE_S)
        except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
            still = 0
        left = f" ({still} running task(s) stopped after {GRACE_S:g} s)" if still else ""
        sys.stderr.write(f"doit: interrupted{left}\n")
        raise SystemExit(INTERRUPTED) from None


if __name__ == "__main__":
    main()
