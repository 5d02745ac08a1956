"""doit's console output, made for people running hundreds of tasks.

Executed tasks show as `.  name`; up-to-date ones are counted, not listed. A failure caused by
the user's input is one line (`✗ task: message — fix`, plus a failing build step's last lines;
`build.actions` turns a task's `UserError` into that failure; one found while creating the
tasks is the same line, `✗ file:line: …`, from `stop_loading`); an unexpected exception keeps its
traceback. The run ends with one summary line, and one line
naming the image tasks that could not run when no Docker engine answered.

It also keeps, for `invoke why`, why each executed task ran and how it ended (build.lastrun):
written once at the end of a run that executed something, never on a no-op.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from doit.exceptions import TaskFailed, UnmetDependency
from doit.globals import Globals
from doit.reporter import ConsoleReporter

from dataplatform.build import lastrun, stamps
from dataplatform.build.runstate import RUN
from dataplatform.errors import UserError
from dataplatform.project import Project


def failure_line(message: str, task: str | None = None) -> str:
    """The one line of a user error: `✗ task: message — fix`, or `✗ message — fix` for one
    found while creating the tasks (its message names the file and line). An error that names
    its own place the way doit names the task (ImageError's `image:<name>: …`) is not prefixed
    twice."""
    message = message.rstrip()
    if task is None:
        return f"✗ {message}"
    return f"✗ {task}: {message.removeprefix(f'{task}: ')}"


def stop_loading(error: UserError) -> NoReturn:
    """A user error found while creating the tasks (a bad services.yaml or pipeline.yaml):
    its one line on stderr, and doit stops before any task runs with exit code 3 (doit's code
    for errors before execution), no traceback."""
    sys.stderr.write(failure_line(str(error)) + "\n")
    sys.stderr.flush()
    raise SystemExit(3)


class Reporter(ConsoleReporter):
    desc = "dataplatform: one line per executed task or failure, then a summary"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.up_to_date: list[str] = []
        self.executed: list[str] = []
        self.recorder: lastrun.Recorder | None = None
        self.declared: set[str] | None = None

    def initialize(self, tasks, selected_tasks) -> None:
        super().initialize(tasks, selected_tasks)
        self.declared = set(tasks)
        if Globals.dep_manager is not None:
            project = RUN.project or Project(Path.cwd())
            self.recorder = lastrun.Recorder(Globals.dep_manager, project.root)
            self.recorder.install()

    def _recorded(self, task) -> bool:
        return self.recorder is not None and bool(task.actions)

    def execute_task(self, task) -> None:
        if task.actions and not task.name.startswith("_"):
            self.executed.append(task.name)
        if self._recorded(task):
            self.recorder.start(task.name)
        super().execute_task(task)

    def add_success(self, task) -> None:
        if self._recorded(task):
            if task.name in RUN.engine_skipped:
                reason = RUN.engine_failure.reason if RUN.engine_failure else "no engine"
                self.recorder.finish(
                    task.name, lastrun.SKIPPED, f"Docker engine not reachable ({reason})"
                )
            elif task.name in RUN.offline_bases:
                self.recorder.finish(
                    task.name,
                    lastrun.SKIPPED,
                    f"base image {RUN.offline_bases[task.name]} not on this "
                    "engine and its registry unreachable",
                )
            else:
                self.recorder.finish(task.name, lastrun.OK)
        super().add_success(task)

    def skip_uptodate(self, task) -> None:
        stamps.remember(task, Globals.dep_manager)  # a touched, unchanged file_dep: read once
        if task.actions:
            self.up_to_date.append(task.name)

    def add_failure(self, task, fail) -> None:
        if self._recorded(task):
            if isinstance(fail, UnmetDependency):
                self.recorder.finish(
                    task.name,
                    lastrun.SKIPPED,
                    f"not run: it needs {fail.message.strip()}, which failed",
                )
            else:
                first = (fail.message or fail.get_name()).strip().splitlines() or [""]
                self.recorder.finish(task.name, lastrun.FAILED, first[0])
        result = {"task": task, "exception": fail}
        if not fail.report:
            return
        self.failures.append(result)
        if isinstance(fail, TaskFailed) and not fail.traceback:
            self.write(failure_line(fail.message, task.name) + "\n")
        elif isinstance(fail, UnmetDependency):  # the failed task said why, once
            self.write(f"✗ {task.name}: not run, it needs {fail.message.strip()}, which failed\n")
        else:
            self.write(f"✗ {task.name}: {fail.get_name()}\n{fail.get_msg()}\n")

    def complete_run(self) -> None:
        if self.recorder is not None and self.recorder.records:
            project = RUN.project or Project(Path.cwd())  # doit runs in dodo.py's folder
            try:
                lastrun.save(project.last_run_file, self.recorder.records, self.declared)
            except OSError as exc:  # a read-only checkout still builds; say it once
                self.write(f"! could not keep the run record for `invoke why`: {exc}\n")
        if RUN.engine_skipped:
            names = ", ".join(RUN.engine_skipped)
            reason = RUN.engine_failure.reason if RUN.engine_failure else "no engine"
            fix = (RUN.engine_failure.fix if RUN.engine_failure else "") or "start Docker"
            self.write(
                f"! Docker engine not reachable ({reason}): did not run {names} — {fix}, "
                "and run doit again (set DATAPLATFORM_STRICT=1 to make this an "
                "error)\n"
            )
        if RUN.offline_bases:
            names = ", ".join(f"{task} ({base})" for task, base in RUN.offline_bases.items())
            self.write(
                f"! base images not on this engine and their registry is unreachable "
                f"(offline?): did not build {names} — pull or load them and run doit "
                "again (set DATAPLATFORM_STRICT=1 to make this an error)\n"
            )
        parts = []
        if self.executed:
            parts.append(f"{len(self.executed)} ran")
        if self.up_to_date:
            parts.append(f"{len(self.up_to_date)} up to date")
        if self.failures:
            parts.append(f"{len(self.failures)} failed")
        image_bits = [
            f"{count} {how}" for how, count in sorted(RUN.outcomes.items()) if how != "present"
        ]
        if RUN.statted:
            image_bits.append(f"{RUN.statted} context files checked, {RUN.hashed} read")
        if parts:
            line = "doit: " + ", ".join(parts)
            if image_bits:
                line += " · images: " + ", ".join(image_bits)
            self.write(line + "\n")
        if self.runtime_errors:
            self.write("Execution aborted.\n" + "\n".join(self.runtime_errors) + "\n")
