"""services.yaml for the commands that must work when it is broken (`down`, `status`, `logs`):
the manifest when it loads; otherwise the error and the namespace read leniently from the
file's text, so running containers can still be seen, read and stopped from their labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dataplatform.errors import ConfigError
from dataplatform.project import Project
from dataplatform.services.manifest import NAMESPACE, ServicesManifest, default_namespace

_NAMESPACE_LINE = re.compile(r"""^namespace:\s*["']?([^"'\s#]+)["']?\s*(?:#.*)?$""", re.MULTILINE)


@dataclass(frozen=True)
class Loaded:
    namespace: str
    manifest: ServicesManifest | None  # None: the file is broken
    problem: ConfigError | None = None

    @property
    def notice(self) -> str:
        """One line for the user when the file is broken, else ''."""
        if self.problem is None:
            return ""
        return (
            f"services.yaml is broken ({self.problem}); working from the engine's labels "
            f"of namespace {self.namespace}"
        )


def load(project: Project) -> Loaded:
    from dataplatform.services.manifest import load_services

    try:
        manifest = load_services(project)
    except ConfigError as exc:
        return Loaded(lenient_namespace(project), None, exc)
    return Loaded(manifest.namespace, manifest)


def lenient_namespace(project: Project) -> str:
    """The top-level `namespace:` of services.yaml found by its line alone, else the default
    (what load_services would have used)."""
    try:
        text = project.services_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    match = _NAMESPACE_LINE.search(text)
    if match and NAMESPACE.match(match.group(1)):
        return match.group(1)
    return default_namespace(project.root)
