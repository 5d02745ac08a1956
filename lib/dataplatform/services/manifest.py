"""`platform/services.yaml` as a whole, loaded into a `ServicesManifest`. This module owns the
file's top-level keys (`namespace`, `services`, `volumes`), the name rules of a namespace, a
service (one DNS label) and a volume, the default namespace (the checkout's folder name),
service templates, the top-level `volumes:` (`Volume`: shared, persistent, external, named)
and the checks across services (dependencies that exist, no cycle).

A service is declared with `template: "name:version"` (a file under `templates/services/`,
rendered with that version), `image:` or `build:`. Keys next to a template override it
(`environment` is merged). One service's own keys and their checks are `services.spec`'s:
every key of that schema takes effect and any other key is an error with a did-you-mean.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataplatform.config.validate import check_keys, expect, optional, suggestion
from dataplatform.config.yamlsource import YamlDocument, load_yaml, parse_yaml
from dataplatform.errors import ConfigError
from dataplatform.project import Project
from dataplatform.services import spec as service_spec
from dataplatform.services.spec import SERVICE_KEYS, Service

TOP_KEYS = ("namespace", "services", "volumes")
VOLUME_KEYS = ("persistent", "external", "name")
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# The service name is the container's hostname: one DNS label.
MAX_SERVICE_NAME = 63
TEMPLATES = Path("templates/services")
# Keys that may stand next to `template:`; for templates of several services only these.
MULTI_TEMPLATE_OVERRIDES = ("environment", "profiles", "kerberos")


@dataclass(frozen=True)
class Volume:
    """A top-level volume: named once (`<namespace>_<key>`), shared by every service that
    mounts `<key>:/path`; `persistent` ones survive `down` (only `down --volumes --yes`
    removes them)."""

    key: str
    persistent: bool = False
    declared_in: str = ""
    # compose's `external: true`: a volume made outside the platform, used by its name as is
    # (`name:`, else the key); never created, labelled or removed. `name:` on a volume of ours
    # names it instead of `<namespace>_<key>`.
    external: bool = False
    name: str | None = None

    def engine_name(self, namespace: str) -> str:
        """The volume's name on the engine."""
        from dataplatform.services.desired import shared_volume_name

        if self.name:
            return self.name
        return self.key if self.external else shared_volume_name(namespace, self.key)


@dataclass(frozen=True)
class ServicesManifest:
    namespace: str
    services: dict[str, Service] = field(default_factory=dict)
    declared_in: str = ""
    volumes: dict[str, Volume] = field(default_factory=dict)

    def edges(self) -> dict[str, list[str]]:
        """Every declared dependency (present ones), for order and cycles."""
        return {
            name: [d for d in s.dependencies if d in self.services]
            for name, s in self.services.items()
        }

    def required_edges(self) -> dict[str, list[str]]:
        """Dependencies a selected service pulls in (`required: false` ones do not)."""
        return {
            name: [d for d in s.required_dependencies if d in self.services]
            for name, s in self.services.items()
        }


def default_namespace(root: Path) -> str:
    """The repository directory's name, made a valid Docker name."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", root.name.lower()).strip("-._")
    return name or "dataplatform"


def available_templates(project: Project) -> list[str]:
    folder = project.root / TEMPLATES
    return sorted(p.name.removesuffix(".yaml.j2") for p in folder.glob("*.yaml.j2"))


def _expand_template(
    project: Project,
    doc: YamlDocument,
    keypath,
    name: str,
    reference: str,
    overrides: dict[str, Any],
) -> list[Service]:
    template, _, version = reference.partition(":")
    known = available_templates(project)
    where = (*keypath, "template")
    if template not in known:
        near = suggestion(template, known)
        raise doc.error(
            where,
            f"unknown service template {template!r}",
            f"did you mean '{near}'?" if near else f"templates: {', '.join(known)}",
        )
    path = project.root / TEMPLATES / f"{template}.yaml.j2"
    import jinja2  # only services from templates need it: every other command starts faster

    try:
        text = jinja2.Template(path.read_text(), undefined=jinja2.StrictUndefined).render(
            name=name, version=version
        )
    except jinja2.TemplateError as exc:
        raise ConfigError(
            project.relative(path),
            getattr(exc, "lineno", None),
            "",
            f"template does not render: {exc}",
        ) from None
    shown = f"{project.relative(path)} ({reference})"
    rendered = parse_yaml(text, shown)
    data = rendered.data or {}
    versions = [str(v) for v in data.get("versions", [])]
    if not version or version not in versions:
        raise doc.error(
            where,
            f"unknown version {version or '(none)'!r} of template {template!r}",
            f"write {template}:<version>, one of {', '.join(versions)}",
        )
    services = []
    generated = data.get("services") or {}
    if len(generated) > 1:
        for key in overrides:
            if key not in MULTI_TEMPLATE_OVERRIDES:
                raise doc.error(
                    (*keypath, key),
                    f"template {template!r} defines several "
                    f"services ({', '.join(generated)}); only "
                    f"{' and '.join(MULTI_TEMPLATE_OVERRIDES)} can be set here",
                )
    user = _parse_overrides(doc, keypath, name, overrides, project)
    for service_name, body in generated.items():
        service_keypath = ("services", str(service_name))
        check_keys(rendered, service_keypath, body, SERVICE_KEYS)
        service = service_spec.parse_service(
            rendered, service_keypath, str(service_name), body, project.root, template=reference
        )
        services.append(_apply(service, user))
    return services


def _parse_overrides(
    doc: YamlDocument, keypath, name: str, overrides: dict[str, Any], project: Project
) -> dict[str, Any]:
    if not overrides:
        return {}
    probe = dict(overrides)
    if "image" not in probe and "build" not in probe:
        probe["image"] = "template"  # only to satisfy the one-source rule while parsing
    parsed = service_spec.parse_service(doc, keypath, name, probe, project.platform_dir)
    keys = [*overrides, *(("optional_deps", "restart_deps") if "depends_on" in overrides else ())]
    return {key: getattr(parsed, key) for key in keys}


def _apply(service: Service, overrides: dict[str, Any]) -> Service:
    if not overrides:
        return service
    changes = dict(overrides)
    if "environment" in changes:
        merged = dict(service.environment)
        merged.update(dict(changes["environment"]))
        changes["environment"] = tuple(merged.items())
    return dataclasses.replace(service, **changes)


def load_services(project: Project) -> ServicesManifest:
    path = project.services_file
    if not path.exists():
        return ServicesManifest(default_namespace(project.root))
    doc: YamlDocument = load_yaml(path, project.relative(path))
    data = doc.data if doc.data is not None else {}
    expect(doc, (), data, dict, "the top level holds namespace: and services:")
    check_keys(doc, (), data, TOP_KEYS)
    namespace = optional(doc, (), data, "namespace", str, default_namespace(project.root))
    if not NAMESPACE.match(namespace):
        raise doc.error(
            ("namespace",),
            f"{namespace!r} is not a valid Docker name",
            "use lowercase letters, digits, '.', '_' or '-'",
        )
    services: dict[str, Service] = {}
    raw_services = optional(doc, (), data, "services", dict, {})
    for name, body in raw_services.items():
        name = str(name)
        keypath = ("services", name)
        if not SERVICE_NAME.match(name):
            raise doc.error(
                keypath,
                f"service name {name!r} is not a valid container name",
                "use lowercase letters, digits, '_' or '-'",
            )
        if len(name) > MAX_SERVICE_NAME:
            raise doc.error(
                keypath,
                f"service name is {len(name)} characters; it is the "
                f"container's hostname, which takes at most {MAX_SERVICE_NAME}",
                "use a shorter name",
            )
        body = body if body is not None else {}
        expect(doc, keypath, body, dict)
        check_keys(doc, keypath, body, SERVICE_KEYS)
        if "template" in body:
            reference = expect(doc, (*keypath, "template"), body["template"], str)
            overrides = {k: v for k, v in body.items() if k != "template"}
            if "image" in overrides or "build" in overrides:
                raise doc.error(keypath, "give exactly one of template, image or build")
            expanded = _expand_template(project, doc, keypath, name, reference, overrides)
        else:
            expanded = [service_spec.parse_service(doc, keypath, name, body, path.parent)]
        for service in expanded:
            if service.name in services:
                raise doc.error(
                    keypath,
                    f"service {service.name!r} is defined twice (also at "
                    f"{services[service.name].declared_in})",
                )
            services[service.name] = service
    volumes = _volumes(doc, optional(doc, (), data, "volumes", dict, {}))
    manifest = ServicesManifest(namespace, services, doc.display, volumes)
    _check_dependencies(doc, manifest)
    from dataplatform.kerberos import config as kerberos

    kerberos.check(doc, manifest, project.root)
    return kerberos.applied(manifest)


def _volumes(doc: YamlDocument, raw: dict[str, Any]) -> dict[str, Volume]:
    found: dict[str, Volume] = {}
    for key, body in raw.items():
        key = str(key)
        keypath = ("volumes", key)
        if not VOLUME_NAME.match(key):
            raise doc.error(
                keypath,
                f"volume name {key!r} is not a valid Docker volume name",
                "use letters, digits, '_', '.' or '-'",
            )
        body = body if body is not None else {}
        expect(doc, keypath, body, dict, "a mapping like {persistent: true}, or nothing")
        check_keys(doc, keypath, body, VOLUME_KEYS)
        persistent = optional(doc, keypath, body, "persistent", bool, False)
        external = optional(doc, keypath, body, "external", bool, False)
        name = optional(doc, keypath, body, "name", str, None)
        if name is not None and not VOLUME_NAME.match(name):
            raise doc.error(
                (*keypath, "name"),
                f"{name!r} is not a valid Docker volume name",
                "use letters, digits, '_', '.' or '-'",
            )
        if external and "persistent" in body:
            raise doc.error(
                (*keypath, "persistent"),
                "an external volume is never removed "
                "by the platform, so persistent does not apply to it",
                "remove persistent, or remove external: true",
            )
        found[key] = Volume(key, persistent, f"{doc.display}:{doc.line(keypath)}", external, name)
    return found


def _check_dependencies(doc: YamlDocument, manifest: ServicesManifest) -> None:
    from dataplatform.services.graph import find_cycle

    for service in manifest.services.values():
        for dependency in service.required_dependencies:
            if dependency not in manifest.services:
                near = suggestion(dependency, manifest.services)
                raise ConfigError(
                    service.declared_in.rsplit(":", 1)[0],
                    int(service.declared_in.rsplit(":", 1)[1] or 0) or None,
                    f"services.{service.name}.depends_on",
                    f"depends on unknown service {dependency!r}",
                    f"did you mean '{near}'?"
                    if near
                    else f"services: {', '.join(sorted(manifest.services))}",
                )
    cycle = find_cycle(manifest.edges())
    if cycle:
        first = manifest.services[cycle[0]]
        raise ConfigError(
            first.declared_in.rsplit(":", 1)[0],
            int(first.declared_in.rsplit(":", 1)[1] or 0) or None,
            f"services.{cycle[0]}.depends_on",
            f"dependency cycle: {' → '.join(cycle)}",
            "remove one of these depends_on entries",
        )
