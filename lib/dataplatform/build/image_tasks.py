"""doit tasks `image:<name>`: up to date exactly when an image with the current fingerprint is
on the engine; otherwise pull it from the shared registry or build (and push) it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from doit.exceptions import TaskFailed

from dataplatform.build import inputs
from dataplatform.build.actions import action
from dataplatform.build.console import say
from dataplatform.build.runstate import RUN
from dataplatform.errors import EngineUnavailable, UserError
from dataplatform.images.spec import ImageSpec

if TYPE_CHECKING:  # the catalog is loaded by the Loader, not on the load cache's path
    from dataplatform.catalog import Catalog


BASENAME = "image"


def _printer(task_name: str):
    def log(line: str) -> None:
        say(f"   {task_name}: {line}")

    return log


class ImageUpToDate:
    """doit `uptodate` check; never raises (errors surface from the action as one line)."""

    def __init__(self, spec: ImageSpec):
        self.spec = spec

    def __call__(self) -> bool:
        from dataplatform.images import presence

        task_name = f"{BASENAME}:{self.spec.name}"
        assert RUN.project is not None
        root = RUN.project.root
        # one inspect of the fingerprint's tag usually answers both: its tags include this
        # checkout's mark when the image is marked (a mark on another image is asked about)
        known = RUN.local_images()
        try:
            fingerprint = RUN.fingerprint(self.spec)
            if not presence.is_present(known, self.spec, fingerprint):
                return False
            marked = presence.is_marked(known, self.spec, fingerprint, root)
        except EngineUnavailable as exc:
            if not RUN.strict and _bases_are_valid(self.spec):  # else the action says why
                RUN.note_engine_missing(task_name, exc)
            return False
        except UserError:
            return False
        if not marked:
            # Present (e.g. built by another clone): nothing to build, but this checkout now
            # uses it, so it marks it (images/checkouts.py); on an engine error the action runs
            # and reports it.
            import docker.errors

            from dataplatform.images import checkouts

            reference = f"{self.spec.repository}:{fingerprint.tag}"
            try:
                checkouts.mark(RUN.api(), reference, self.spec.name, root)
            except (EngineUnavailable, docker.errors.DockerException):
                return False
            RUN.remember(fingerprint.digest, presence.mark_of(self.spec, root))
        return True


def _bases_are_valid(spec: ImageSpec) -> bool:
    from dataplatform.images import base_images

    assert RUN.project is not None
    try:
        base_images.check(spec, RUN.project.root)
    except UserError:
        return False
    return True


_BASES: dict[str, tuple[str, bool] | None] = {}  # base reference → its problem, per process
_BASES_LOCK = threading.Lock()


def base_problem(spec: ImageSpec) -> tuple[str, str, bool] | None:
    """(base, the engine's message, offline?) for the first base image of `spec` the engine
    neither has nor can pull: asked once per distinct base and process, before any build
    context is written or sent."""
    from dataplatform.images import base_images, presence

    try:
        text = spec.dockerfile.read_text(errors="replace")
    except OSError:
        return None  # the fingerprint reports it
    for line in base_images.from_lines(text, dict(spec.args)):
        base = line.reference
        if base is None or base.lower() == "scratch":
            continue  # a variable set nowhere here: the build says what it resolves to
        with _BASES_LOCK:
            if base not in _BASES:
                _BASES[base] = presence.base_problem(base)
            problem = _BASES[base]
        if problem is not None:
            return base, *problem
    return None


class EnsureImage:
    """doit action: make the image of the current fingerprint exist. Several run at once
    (build.jobs): the engine does the work, and the run state is shared under its lock."""

    concurrent = True

    def __init__(self, spec: ImageSpec):
        self.spec = spec

    def __call__(self) -> dict[str, Any] | TaskFailed | None:
        from dataplatform.images import base_images, presence

        task_name = f"{BASENAME}:{self.spec.name}"
        try:
            fingerprint = RUN.fingerprint(self.spec)
            assert RUN.project is not None
            base_images.check(self.spec, RUN.project.root)  # a malformed FROM fails offline too
            if not RUN.registry and not presence.is_present(
                RUN.local_images(), self.spec, fingerprint
            ):
                # it must be built: a base the engine cannot get fails here, with no context
                # written or sent (with a registry, a pull of the image itself comes first)
                missing = base_problem(self.spec)
                if missing is not None:
                    return self._unbuildable(task_name, *missing)
            api = RUN.api()
        except EngineUnavailable as exc:
            if RUN.strict:
                return TaskFailed(
                    f"{exc}; this is an error because CI=true, "
                    "DATAPLATFORM_STRICT or strict=1 is set"
                )
            RUN.note_engine_missing(task_name, exc)
            return None
        import docker.errors  # only when something must be pulled or built

        from dataplatform.images import ensure
        from dataplatform.images.builder import BaseImageUnreachable

        try:
            assert RUN.project is not None
            outcome = ensure.ensure_image(
                api,
                RUN.namespace,
                self.spec,
                fingerprint,
                RUN.registry,
                _printer(task_name),
                RUN.project.root,
            )
        except BaseImageUnreachable as exc:
            if RUN.strict:
                return TaskFailed(str(exc))
            RUN.note_offline_base(task_name, exc.base)  # like a missing engine: said once
            return None
        except docker.errors.DockerException as exc:
            return TaskFailed(f"image:{self.spec.name}: Docker engine error: {exc}")
        RUN.count(outcome.how)
        reference = f"{self.spec.repository}:{fingerprint.tag}"
        RUN.remember(fingerprint.digest, reference, presence.mark_of(self.spec, RUN.project.root))
        return {
            "reference": reference,
            "fingerprint": fingerprint.digest,
            "how": outcome.how,
        }

    def _unbuildable(
        self, task_name: str, base: str, message: str, offline: bool
    ) -> TaskFailed | None:
        """A base image the engine lacks and cannot pull: no context is sent. Offline, said
        once in the summary (like a missing engine) unless strict."""
        if offline and not RUN.strict:
            RUN.note_offline_base(task_name, base)
            return None
        return TaskFailed(
            f"base image {base} is not on this engine and cannot be "
            f"pulled ({message}) — pull or build it first, or point the FROM (or "
            "its build arg) at one that is"
        )


def image_tasks(catalog: Catalog) -> Iterator[dict[str, Any]]:
    yield {
        "basename": BASENAME,
        "name": None,
        "doc": "Docker images addressed by the content of their build context",
    }
    for spec in catalog.images:
        declared_in = catalog.project.root / _declaring_file(spec)
        yield inputs.declare(
            {
                "basename": BASENAME,
                "name": spec.name,
                "doc": f"image {spec.name} from {catalog.project.relative(spec.context)}",
                "actions": [action(EnsureImage(spec))],
                "uptodate": [ImageUpToDate(spec)],
                "verbosity": 2,
            },
            files=[spec.dockerfile, declared_in],
            trees=[spec.context],
            pipeline=_pipeline_of(catalog, spec),
            values=[
                (catalog.project.services_file, ("services", name))
                for name, service in catalog.services.services.items()
                if service.build is not None
                and service.build.name == spec.name
                and declared_in == catalog.project.services_file
            ],
        )


def _declaring_file(spec: ImageSpec) -> str:
    """The file of `declared_in` ("platform/services.yaml:28", "templates/services/x.yaml.j2
    (x:1):12")."""
    return spec.declared_in.rsplit(":", 1)[0].split(" (", 1)[0]


def _pipeline_of(catalog: Catalog, spec: ImageSpec) -> str | None:
    return next((p.name for p in catalog.pipelines if spec in p.images), None)
