"""By default doit runs image builds side by side and every other action alone (build.jobs);
`-n`/`-P` on the command line means the user's own choice, for every task.

The runs here are real doit runs (doit's own runner and thread pool) of small task dicts whose
actions go through `build.actions.action`, the wrapper every task of the toolkit uses.
Overlap is proven by a handshake, not by timing: each of two concurrent actions waits for the
other to have started.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from dataplatform.build import jobs
from dataplatform.build.actions import action
from dataplatform.build.dodo import doit_config
from dataplatform.build.image_tasks import EnsureImage

HANDSHAKE_SECONDS = 20  # only reached when the actions do not overlap (the test then fails)


class Meeting:
    """Each attendee says it arrived and waits for all the others; `met` says whether they
    were all inside at once."""

    def __init__(self, attendees: int, timeout: float = HANDSHAKE_SECONDS):
        self.barrier = threading.Barrier(attendees)
        self.timeout = timeout
        self.met: list[bool] = []

    def attend(self) -> None:
        try:
            self.barrier.wait(timeout=self.timeout)
            self.met.append(True)
        except threading.BrokenBarrierError:
            self.met.append(False)


class Crowd:
    """Counts how many of its actions are inside at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.entered = threading.Event()

    def enter_and_linger(self) -> None:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside > 1:
                self.entered.set()
        # waits for company; an action that is alone (serialized) gives up and leaves
        self.entered.wait(timeout=0.5)
        with self.lock:
            self.inside -= 1


class Concurrent:
    concurrent = True

    def __init__(self, meeting: Meeting):
        self.meeting = meeting

    def __call__(self) -> None:
        self.meeting.attend()


class Alone:
    def __init__(self, crowd: Crowd):
        self.crowd = crowd

    def __call__(self) -> None:
        self.crowd.enter_and_linger()


def run_doit(tmp_path: Path, tasks: list[dict], *args: str) -> int:
    def task_all():
        yield from tasks

    jobs.follow_command_line(args)
    config = {
        "dep_file": str(tmp_path / ".doit.db"),
        "backend": "sqlite3",
        "verbosity": 0,
        **jobs.doit_defaults(),
    }
    try:
        return DoitMain(ModuleTaskLoader({"task_all": task_all, "DOIT_CONFIG": config})).run(
            list(args)
        )
    finally:
        jobs.follow_command_line([])


def test_the_default_runs_concurrent_actions_side_by_side_and_others_alone(tmp_path):
    meeting, crowd = Meeting(2), Crowd()
    tasks = [
        {"name": f"image{i}", "actions": [action(Concurrent(meeting))], "uptodate": [False]}
        for i in range(2)
    ] + [
        {"name": f"dbt{i}", "actions": [action(Alone(crowd))], "uptodate": [False]}
        for i in range(3)
    ]
    assert run_doit(tmp_path, tasks) == 0
    assert meeting.met == [True, True]
    assert crowd.most == 1


def test_an_explicit_process_count_runs_every_action_side_by_side(tmp_path):
    crowd = Crowd()
    tasks = [
        {"name": f"dbt{i}", "actions": [action(Alone(crowd))], "uptodate": [False]}
        for i in range(2)
    ]
    assert run_doit(tmp_path, tasks, "-n", "2", "-P", "thread") == 0
    assert crowd.most == 2


@pytest.mark.parametrize("args", [["-n", "0"], ["-P", "thread"]], ids=["-n 0", "-P alone"])
def test_explicit_sequential_runs_concurrent_actions_one_after_another(tmp_path, args):
    """`-P` without `-n` is doit's own default: one task at a time."""
    meeting = Meeting(2, timeout=1)
    tasks = [
        {"name": f"image{i}", "actions": [action(Concurrent(meeting))], "uptodate": [False]}
        for i in range(2)
    ]
    assert run_doit(tmp_path, tasks, *args) == 0
    assert meeting.met == [False, False]  # the first waited alone: one at a time, as asked


@pytest.mark.parametrize(
    ("argv", "chosen"),
    [
        ([], False),
        (["dbt:orders"], False),
        (["-n", "2"], True),
        (["-n2"], True),
        (["--process=3"], True),
        (["-P", "thread"], True),
        (["--parallel-type", "process"], True),
        (["-v", "2", "image"], False),
        (["--", "-n"], False),
    ],
)
def test_the_command_line_chooses_the_parallelism_only_when_it_names_it(argv, chosen):
    assert jobs.chosen_on_command_line(argv) is chosen


@pytest.mark.parametrize(
    ("argv", "jobs_"),
    [
        (["/venv/bin/doit", "-n", "3"], None),
        (["/lib/python3.11/site-packages/doit/__main__.py", "-P", "thread"], None),
        (["/lib/python3.11/site-packages/doit/__main__.py", "dbt"], jobs.DEFAULT_JOBS),
        (["/repo/lib/dataplatform/build/doit_main.py", "-n", "2"], None),
        (["/venv/bin/pytest", "-n", "3"], jobs.DEFAULT_JOBS),  # not doit: its own argv
    ],
)
def test_doit_config_follows_doits_own_command_line_whichever_entry_started_it(
    monkeypatch, argv, jobs_
):
    monkeypatch.setattr("sys.argv", argv)
    try:
        assert doit_config().get("num_process") == jobs_
    finally:
        jobs.follow_command_line([])


def test_the_toolkits_doit_config_uses_the_default_and_only_image_builds_overlap():
    config = doit_config()
    assert (config["num_process"], config["par_type"]) == (jobs.DEFAULT_JOBS, "thread")
    assert jobs.DEFAULT_JOBS >= 2
    from dataplatform.build import cdc_tasks, dbt_tasks, orchestration_tasks, warehouse_tasks

    assert EnsureImage.concurrent is True
    others = [
        getattr(module, name)
        for module in (cdc_tasks, dbt_tasks, orchestration_tasks, warehouse_tasks)
        for name in dir(module)
        if isinstance(getattr(module, name), type) and name[:1].isupper()
    ]
    assert others and not any(getattr(cls, "concurrent", False) for cls in others)


SLOW_DODO = """
import pathlib, time

def slow():
    pathlib.Path("started").write_text("yes")
    time.sleep(60)

def task_slow():
    return {"actions": [slow], "uptodate": [False], "verbosity": 2}
"""


def interrupt_once_started(tmp_path: Path, dodo: str, *args: str) -> tuple[int, str]:
    """Run the toolkit's `doit ARGS` on `dodo` in `tmp_path`, press Ctrl-C (SIGINT) once its
    action wrote `started`, and return its exit code and stderr."""
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "dodo.py").write_text(dodo)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "doit"), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        for _ in range(300):  # the action has started (at most 30 s)
            if (tmp_path / "started").exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert (tmp_path / "started").exists()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, stderr


@pytest.mark.parametrize("args", [[], ["-n", "0"]], ids=["default", "sequential"])
def test_ctrl_c_stops_doit_with_one_line_and_the_shells_code(tmp_path, args):
    returncode, stderr = interrupt_once_started(tmp_path, SLOW_DODO, *args)
    assert returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "doit: interrupted"


def test_an_action_running_an_action_inside_it_does_not_wait_for_itself(tmp_path):
    """A task rebuilt from the load cache runs a `Deferred` action, itself an Action, which
    runs the real Action inside it: both ask for the exclusive slot, in one thread."""
    import threading as threads

    crowd = Crowd()
    tasks = [{"name": "dbt", "actions": [action(action(Alone(crowd)))], "uptodate": [False]}]
    results: list[int] = []
    runner = threads.Thread(target=lambda: results.append(run_doit(tmp_path, tasks)), daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "doit waited for the slot its own action holds"
    assert results == [0] and crowd.most == 1


TWO_TASKS_DODO = """
import pathlib, time

def first():
    pathlib.Path("started").write_text("yes")
    try:
        time.sleep(2)  # Ctrl-C arrives meanwhile, in the main thread
    finally:
        pathlib.Path("cleaned-up").write_text("yes")

def second():
    pathlib.Path("second-started").write_text("yes")

def task_first():
    return {"actions": [first], "uptodate": [False]}

def task_second():
    return {"actions": [second], "uptodate": [False]}
"""

SERIALIZED_DODO = (
    """
import sys
from dataplatform.build.actions import action
from dataplatform.build import jobs
"""
    + TWO_TASKS_DODO.replace("[first]", "[action(first)]").replace("[second]", "[action(second)]")
    + """
DOIT_CONFIG = jobs.doit_defaults()
"""
)


def test_ctrl_c_lets_a_running_action_clean_up_and_starts_no_other(tmp_path):
    """By default two tasks are handed to two worker threads; the second waits for the
    exclusive slot while the first runs. After Ctrl-C the first finishes its cleanup within the
    grace period and the second never starts."""
    returncode, stderr = interrupt_once_started(tmp_path, SERIALIZED_DODO)
    assert returncode == 130, stderr
    assert (tmp_path / "cleaned-up").exists()
    assert not (tmp_path / "second-started").exists()
    assert stderr.strip().splitlines()[-1] == "doit: interrupted"


def test_after_the_engine_first_answers_a_slow_answer_is_waited_for(monkeypatch):
    """Only the first question of a run is bounded by the ping timeout: once the engine has
    answered, builds running beside the checks (by default) may slow an inspect, which must not
    be taken for a missing engine. `presence.fingerprints_of` is replaced by a recorder: the
    point is which timeout each question gets, not an engine's answer."""
    from dataplatform.build.runstate import RunState
    from dataplatform.images import engine, presence

    asked: list[float] = []

    def fingerprints_of(reference: str, timeout: float) -> dict[str, str | None]:
        asked.append(timeout)
        return {reference: None}

    monkeypatch.setattr(presence, "fingerprints_of", fingerprints_of)
    run = RunState()
    run.fingerprint_on_engine("a:fp-1")
    run.fingerprint_on_engine("a:fp-1")  # remembered: not asked again
    run.fingerprint_on_engine("b:fp-2")
    assert asked == [engine.PING_TIMEOUT_S, engine.API_TIMEOUT_S]
