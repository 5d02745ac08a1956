"""`up`: converge the engine to services.yaml, health-gated, the way docker compose does —
observe the engine once (services/observe.py), plan with a pure function (services/plan.py),
execute the plan (services/execute.py). Down, status, logs and restart live in
services/stop.py, status.py and found.py. Every container, network and volume carries the
namespace label; nothing without it is ever stopped or removed.

Images declared with `build:` are ensured in-process (images/ensure.py: present, pulled from
the shared registry, or built), the same code the `image:` doit tasks run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataplatform import interpolate
from dataplatform.errors import UserError
from dataplatform.images import engine
from dataplatform.project import Project
from dataplatform.services import desired as desired_mod
from dataplatform.services.desired import DesiredContainer
from dataplatform.services.manifest import ServicesManifest, load_services
from dataplatform.services.spec import Service

if TYPE_CHECKING:  # planning and executing load with `up` (status computes hashes only)
    import docker

    from dataplatform.images import fingerprint as fp
    from dataplatform.services import plan as plan_mod
    from dataplatform.services.observe import Observed

__all__ = ["Platform", "UpResult"]

Report = Callable[[str, str, str], None]  # service, state, detail


@dataclass
class UpResult:
    kept: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _quiet(service: str, state: str, detail: str) -> None:
    pass


def want_of(want: DesiredContainer) -> plan_mod.Want:
    """The planner's view of a desired container."""
    from dataplatform.services import plan as plan_mod

    service = want.service
    return plan_mod.Want(
        name=service.name,
        container=want.name,
        config_hash=want.config_hash,
        image_id=want.image_id,
        depends_on=service.depends_on,
        restart_deps=service.restart_deps,
        healthcheck=want.healthcheck is not None,
        long_running=want.healthcheck is not None or bool(want.ports),
        volumes=tuple(v.name for v in want.volumes),
    )


class Platform:
    def __init__(self, project: Project, manifest: ServicesManifest | None = None):
        self.project = project
        self.manifest = manifest or load_services(project)
        self.namespace = self.manifest.namespace
        self._client: docker.DockerClient | None = None
        self._inspected: dict[str, dict[str, Any] | None] = {}

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = engine.client()
        return self._client

    # -- selection ----------------------------------------------------------------------------
    def select(
        self, names: list[str] | None = None, profiles: list[str] | None = None
    ) -> list[Service]:
        return self.selection(names, profiles)[0]

    def selection(
        self, names: list[str] | None = None, profiles: list[str] | None = None
    ) -> tuple[list[Service], list[str]]:
        """The services to start in start order, and notes on the `required: false`
        dependencies left out (not declared, or not selected)."""
        from dataplatform.services import graph

        services = self.manifest.services
        for name in names or []:
            if name not in services:
                raise UserError(
                    f"no service {name!r} in {self.manifest.declared_in} — "
                    f"services: {', '.join(sorted(services))}"
                )
        if names:
            wanted = graph.closure(self.manifest.required_edges(), names)
        else:
            wanted = {
                n
                for n, s in services.items()
                if not s.profiles or set(s.profiles) & set(profiles or [])
            }
            wanted = graph.closure(self.manifest.required_edges(), sorted(wanted))
        notes = []
        for name in sorted(wanted):
            for dependency in services[name].optional_deps:
                if dependency not in services:
                    why = f"not in {self.manifest.declared_in}"
                elif dependency not in wanted:
                    profiles_of = ", ".join(services[dependency].profiles)
                    why = f"not selected (profile {profiles_of})" if profiles_of else "not selected"
                else:
                    continue
                notes.append(
                    f"{name}: optional dependency {dependency} skipped ({why}; required: false)"
                )
        order = graph.start_order(
            {n: [d for d in services[n].dependencies if d in wanted] for n in wanted}
        )
        return [services[n] for n in order], notes

    # -- images -------------------------------------------------------------------------------
    def images(
        self,
        services: list[Service],
        fetch: bool = True,
        observed: Observed | None = None,
        report: Report = _quiet,
    ) -> dict[str, tuple[str, str]]:
        """service → (image reference, image ID). Images declared with `build:` are ensured
        in-process (present, pulled from the registry or built) and images by reference are
        pulled when missing — unless `fetch` is false (then missing images are left out).
        `observed`: images already read (an image list); any other is inspected by reference,
        one plain-HTTP request each (listing every image costs far more on a busy engine)."""
        from dataplatform.services.observe import image_key

        resolved: dict[str, tuple[str, str]] = {}
        values: dict[str, str] | None = None
        for service in services:
            if service.build is not None:
                image = self._built_image(service, fetch, observed, report)
                if image is not None:
                    resolved[service.name] = image
                continue
            if values is None:
                values = interpolate.variables(self.project.root)
            reference = interpolate.interpolate(service.image or "", values, service.declared_in)
            image_id = observed.images.get(image_key(reference)) if observed else None
            if not image_id:
                image_id = (self._inspect(reference) or {}).get("Id")
            if not image_id and fetch:
                image_id = self._pull(service.name, reference)
            if image_id:
                resolved[service.name] = (reference, image_id)
        return resolved

    def _built_image(
        self, service: Service, fetch: bool, observed: Observed | None, report: Report
    ) -> tuple[str, str] | None:
        from dataplatform.images import checkouts, presence
        from dataplatform.images import fingerprint as fp  # only services with build: need it

        spec = service.build
        assert spec is not None
        fingerprint = fp.of_project(spec, self.project)
        reference = f"{spec.repository}:{fingerprint.tag}"
        known = dict(observed.fingerprints) if observed is not None else {}
        image_id = observed.images.get(reference) if observed is not None else None
        if not presence.is_present(known, spec, fingerprint):
            found = self._inspect(reference) or {}
            image_id = found.get("Id")
            known = presence.carried(found, reference)
        if image_id and presence.is_present(known, spec, fingerprint):
            if fetch and not presence.is_marked(known, spec, fingerprint, self.project.root):
                checkouts.mark(self.client.api, image_id, spec.name, self.project.root)
            return reference, image_id
        if not fetch:
            return None
        return reference, self._ensure(service, fingerprint, report)

    def _ensure(self, service: Service, fingerprint: fp.Fingerprint, report: Report) -> str:
        """Build (or pull from the shared registry) the image of `service`, in this process."""
        import docker.errors

        from dataplatform import settings
        from dataplatform.images import base_images, ensure

        spec = service.build
        assert spec is not None
        base_images.check(spec, self.project.root)
        report(service.name, "building", f"image {spec.name}")
        try:
            outcome = ensure.ensure_image(
                self.client.api,
                self.namespace,
                spec,
                fingerprint,
                settings.registry(self.project.root),
                lambda line: report(service.name, "building", line.strip()[:100]),
                self.project.root,
            )
        except docker.errors.DockerException as exc:
            raise UserError(
                f"service {service.name}: could not build image {spec.name}: "
                f"{getattr(exc, 'explanation', None) or exc}"
            ) from None
        return outcome.image_id

    def _inspect(self, reference: str) -> dict[str, Any] | None:
        """The engine's inspection of an image reference, None when it has no such image."""
        from urllib.parse import quote

        if reference not in self._inspected:
            self._inspected[reference] = engine.get_json(
                f"/images/{quote(reference, safe='/:@')}/json", missing_ok=True
            )
        return self._inspected[reference]

    def _pull(self, service: str, reference: str) -> str:
        import docker.errors

        try:
            return self.client.images.pull(reference).id
        except docker.errors.APIError as exc:
            raise UserError(
                f"service {service}: image {reference} is not on this engine and "
                f"cannot be pulled ({exc.explanation or exc}) — pull or build it "
                "first"
            ) from None

    # -- desired state ------------------------------------------------------------------------
    def desired(
        self,
        services: list[Service],
        fetch: bool = True,
        observed: Observed | None = None,
        report: Report = _quiet,
    ) -> dict[str, DesiredContainer]:
        images = self.images(services, fetch, observed, report)
        values = interpolate.variables(self.project.root)
        return {
            s.name: desired_mod.desired(
                s, self.namespace, *images[s.name], self.project.root, values, self.manifest.volumes
            )
            for s in services
            if s.name in images
        }

    # -- up -----------------------------------------------------------------------------------
    def plan(
        self,
        names: list[str] | None = None,
        profiles: list[str] | None = None,
        report: Report = _quiet,
    ) -> tuple[plan_mod.Plan, dict[str, DesiredContainer], Observed, list[str]]:
        """Everything `up` decides before it changes anything: images (built or pulled),
        interpolation, the plan, and its conflicts (name clashes, then host ports)."""
        from dataplatform.services import execute
        from dataplatform.services import plan as plan_mod
        from dataplatform.services.observe import observe

        services, notes = self.selection(names, profiles)
        if not services:
            raise UserError("no service to start — every service has a profile; pass --profile")
        observed = observe(self.namespace)
        wanted = self.desired(services, observed=observed, report=report)
        made = plan_mod.plan(
            [want_of(wanted[s.name]) for s in services],
            observed,
            desired_mod.network_name(self.namespace),
        )
        if made.conflicts:
            raise UserError("; ".join(made.conflicts))
        self._check_volumes(made, wanted)
        execute.check_ports(made, wanted, observed)
        return made, wanted, observed, notes

    def _check_volumes(self, made: plan_mod.Plan, wanted: dict[str, DesiredContainer]) -> None:
        """The named volumes of the containers about to be created are ours or missing, and
        the external ones exist: one inspection each (none when nothing is created)."""
        from urllib.parse import quote

        from dataplatform.services import plan as plan_mod
        from dataplatform.services import volumes

        creating = [wanted[s.target] for s in made.steps if s.kind == plan_mod.CREATE_STEP]
        managed = {v.name: (want.service.name, v.key) for want in creating for v in want.volumes}
        places = {
            v.engine_name(self.namespace): v.declared_in
            for v in self.manifest.volumes.values()
            if v.external
        }
        external = {
            name: places.get(name, self.manifest.declared_in)
            for want in creating
            for name in want.external_volumes
        }
        found = {
            name: engine.get_json(f"/volumes/{quote(name)}", missing_ok=True)
            for name in {*managed, *external}
        }
        problems = volumes.problems(
            managed,
            external,
            found,
            self.namespace,
            self.manifest.declared_in or "platform/services.yaml",
        )
        if problems:
            raise UserError("; ".join(problems))

    def up(
        self,
        names: list[str] | None = None,
        profiles: list[str] | None = None,
        timeout: float = 300.0,
        report: Report = _quiet,
    ) -> UpResult:
        from dataplatform.services import plan as plan_mod
        from dataplatform.services.execute import Executor

        made, wanted, observed, notes = self.plan(names, profiles, report)
        executor = Executor(
            lambda: self.client.api,
            self.namespace,
            desired_mod.network_name(self.namespace),
            wanted,
            observed,
            report,
        )
        executor.run(made, timeout)
        by: dict[str, list[str]] = {}
        for name, decision in made.decisions.items():
            by.setdefault(decision, []).append(name)

        def of(*decisions: str) -> list[str]:
            return [n for d in decisions for n in by.get(d, [])]

        return UpResult(
            kept=of(plan_mod.KEEP, plan_mod.COMPLETED),
            created=of(plan_mod.CREATE),
            recreated=of(plan_mod.RECREATE),
            restarted=of(plan_mod.START, plan_mod.RESTART),
            notes=notes,
        )

    def containers(self) -> dict[str, Any]:
        """Our containers by service (docker SDK objects)."""
        from dataplatform import labels

        found = self.client.containers.list(
            all=True, filters={"label": f"{labels.PROJECT}={self.namespace}"}
        )
        return {c.labels.get(labels.SERVICE, c.name): c for c in found}
