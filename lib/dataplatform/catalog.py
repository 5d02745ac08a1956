"""Everything the repository declares, gathered in one place for doit and invoke.

Images come from `platform/services.yaml` (a service's `build:`) and from pipelines
(`images:` in `pipeline.yaml`); two declarations of one image name are an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dataplatform.errors import UserError
from dataplatform.images.spec import ImageSpec
from dataplatform.orchestration.spec import Settings, load_settings
from dataplatform.pipelines.manifest import Pipeline, load_pipelines
from dataplatform.project import Project
from dataplatform.services.manifest import ServicesManifest, load_services


@dataclass(frozen=True)
class Catalog:
    project: Project
    services: ServicesManifest
    pipelines: tuple[Pipeline, ...]
    images: tuple[ImageSpec, ...]
    orchestration: Settings

    @property
    def namespace(self) -> str:
        return self.services.namespace


def _same_build(one: ImageSpec, other: ImageSpec) -> bool:
    return dataclasses.replace(one, declared_in="") == dataclasses.replace(other, declared_in="")


def load_catalog(project: Project) -> Catalog:
    services = load_services(project)
    orchestration = load_settings(project)
    pipelines = tuple(load_pipelines(project, orchestration))
    images: dict[str, ImageSpec] = {}
    declared = [s.build for s in services.services.values() if s.build]
    declared += [image for p in pipelines for image in p.images]
    for spec in declared:
        if spec.name in images and _same_build(spec, images[spec.name]):
            continue  # several services of one image (e.g. Airflow's scheduler and webserver)
        if spec.name in images:
            raise UserError(
                f"{spec.declared_in}: image {spec.name!r} is already declared at "
                f"{images[spec.name].declared_in} — give one of them another name"
            )
        images[spec.name] = spec
    _check_engine_locks(services, orchestration)
    return Catalog(project, services, pipelines, tuple(images.values()), orchestration)


def _check_engine_locks(services: ServicesManifest, orchestration: Settings) -> None:
    """The platform's Airflow/Dagster and the one DAGs are validated with must be one version:
    a template `<engine>:<version>` runs the lock `<engine>-<version>.txt`."""
    for service in services.services.values():
        engine, _, version = (service.template or "").partition(":")
        if engine not in orchestration.locks:
            continue
        wanted = f"{engine}-{version}.txt"
        validated = orchestration.locks[engine].name
        if validated != wanted:
            raise UserError(
                f"{service.declared_in}: the platform runs {engine}:{version} but "
                f"{orchestration.file} validates with {validated} — set "
                f"{engine}.lock to locks/{wanted} there, or change the template's "
                "version"
            )
