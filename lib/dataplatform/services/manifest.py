"""Load `platform/services.yaml`: the namespace and the declared services.

Each service's keys are checked against the full schema (unknown keys are errors with a
did-you-mean); its `build:` section becomes an `ImageSpec` for the content-addressed image tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataplatform.config.validate import check_keys, expect, optional
from dataplatform.config.yamlsource import YamlDocument, load_yaml
from dataplatform.images.spec import ImageSpec, parse_build
from dataplatform.project import Project

TOP_KEYS = ("namespace", "services")
SERVICE_KEYS = (
    "template", "image", "build", "environment", "command", "ports", "volumes", "persistent",
    "depends_on", "healthcheck", "profiles",
)
NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Service:
    name: str
    raw: dict[str, Any]
    build: ImageSpec | None


@dataclass(frozen=True)
class ServicesManifest:
    namespace: str
    services: dict[str, Service] = field(default_factory=dict)


def default_namespace(root: Path) -> str:
    """The repository directory's name, made a valid Docker name."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", root.name.lower()).strip("-._")
    return name or "dataplatform"


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
        raise doc.error(("namespace",), f"{namespace!r} is not a valid Docker name",
                        "use lowercase letters, digits, '.', '_' or '-'")
    services: dict[str, Service] = {}
    raw_services = optional(doc, (), data, "services", dict, {})
    for name, body in raw_services.items():
        keypath = ("services", str(name))
        body = body if body is not None else {}
        expect(doc, keypath, body, dict)
        check_keys(doc, keypath, body, SERVICE_KEYS)
        build = None
        if "build" in body:
            build = parse_build(doc, (*keypath, "build"), body["build"], str(name), path.parent)
        services[str(name)] = Service(str(name), body, build)
    return ServicesManifest(namespace, services)
