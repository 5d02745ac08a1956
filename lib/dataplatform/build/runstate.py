"""What one doit process learns while it runs: fingerprints, engine status, outcomes.

doit evaluates `uptodate` in the main thread and runs actions in worker threads (the default,
build.jobs) or the main thread (`-n 0`), so this module-level state is shared by all of them,
under a lock. It also keeps what the engine said about each image reference this run asked
about (one inspect each, never a listing). The reporter
reads it to print one summary line and, when the engine was missing, one line naming the
image tasks that could not run.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataplatform.errors import EngineUnavailable, UserError
from dataplatform.project import Project

if TYPE_CHECKING:  # the engine's and the fingerprint's modules load when an image is checked
    import docker

    from dataplatform.images import fingerprint as fp
    from dataplatform.images.spec import ImageSpec


@dataclass
class RunState:
    project: Project | None = None
    namespace: str = ""
    registry: str | None = None
    strict: bool = False
    engine_skipped: list[str] = field(default_factory=list)
    engine_failure: EngineUnavailable | None = None
    offline_bases: dict[str, str] = field(default_factory=dict)  # task → unreachable base image
    outcomes: Counter = field(default_factory=Counter)
    statted: int = 0
    hashed: int = 0
    _fingerprints: dict[str, fp.Fingerprint | UserError] = field(default_factory=dict)
    _local: dict[str, str | None] = field(default_factory=dict)  # reference → its fingerprint
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def configure(
        self, project: Project, namespace: str, registry: str | None, strict: bool
    ) -> None:
        with self._lock:
            self.project, self.namespace = project, namespace
            self.registry, self.strict = registry, strict

    def fingerprint(self, spec: ImageSpec) -> fp.Fingerprint:
        """The fingerprint of `spec`, computed once per process; raises its `UserError`."""
        with self._lock:
            known = self._fingerprints.get(spec.name)
        if known is None:
            assert self.project is not None
            from dataplatform.images import fingerprint as fp

            try:
                known = fp.of_project(spec, self.project)
                with self._lock:
                    self.statted += known.statted
                    self.hashed += known.hashed
            except UserError as exc:
                known = exc
            with self._lock:
                self._fingerprints[spec.name] = known
        if isinstance(known, UserError):
            raise known
        return known

    def api(self) -> docker.APIClient:
        from dataplatform.images import engine

        return engine.client().api

    def local_images(self) -> EngineImages:
        """The engine's images as `presence.is_present`/`is_marked` read them: the engine is
        asked about a reference (one inspect) when it is first read, never for a listing, so
        a no-op costs a request per declared image, not per image on the engine."""
        return EngineImages(self)

    def fingerprint_on_engine(self, reference: str) -> str | None:
        """The fingerprint the engine's image `reference` carries (None: no such image),
        asked once per process (what this process builds, pulls or marks is `remember`ed);
        raises `EngineUnavailable`."""
        with self._lock:
            if reference in self._local:
                return self._local[reference]
            answered = bool(self._local)  # only the engine's answers, or what it built
        from dataplatform.images import engine, presence

        # Until the engine first answers, a silent one costs a no-op at most the ping timeout;
        # after that, an answer slowed by the builds running beside it (build.jobs) is waited
        # for, not taken for a missing engine (which would skip every image task left).
        timeout = engine.API_TIMEOUT_S if answered else engine.PING_TIMEOUT_S
        answer = presence.fingerprints_of(reference, timeout)
        with self._lock:
            self._local.update(answer)
        return answer[reference]

    def remember(self, digest: str, *references: str) -> None:
        """`references` now name an image that carries `digest` (this process built, pulled or
        marked it)."""
        with self._lock:
            self._local.update(dict.fromkeys(references, digest))

    def note_engine_missing(self, task_name: str, failure: EngineUnavailable) -> None:
        with self._lock:
            self.engine_failure = failure
            if task_name not in self.engine_skipped:
                self.engine_skipped.append(task_name)

    def note_offline_base(self, task_name: str, base: str) -> None:
        with self._lock:
            self.offline_bases[task_name] = base

    def count(self, how: str) -> None:
        with self._lock:
            self.outcomes[how] += 1


@dataclass(frozen=True)
class EngineImages:
    """`presence.Known` over the engine: each reference read is asked through the run's memo."""

    run: RunState

    def get(self, reference: str, /) -> str | None:
        return self.run.fingerprint_on_engine(reference)


RUN = RunState()
