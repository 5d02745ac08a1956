"""What `invoke doctor` checks: one small function per prerequisite, each returning what it
saw and, when it fails, the exact step that fixes it. `required` checks make setup and doctor
fail; the others warn."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from dataplatform import interpolate, settings
from dataplatform.errors import EngineUnavailable, UserError
from dataplatform.project import Project
from dataplatform.workstation import envfile

if TYPE_CHECKING:
    from dataplatform.services.observe import Observed

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 11)
MIN_FREE_MEMORY = 4 * 1024**3
MIN_FREE_DISK = 10 * 1024**3


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    observed: str
    fix: str = ""
    required: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def python_version(version: tuple[int, ...] | None = None) -> Check:
    version = version or sys.version_info[:3]
    shown = ".".join(map(str, version))
    if tuple(version[:2]) >= MIN_PYTHON:
        return Check("python", OK, shown, required=True)
    return Check(
        "python",
        FAIL,
        shown,
        "install Python 3.11 or newer and recreate .venv (python3.11 -m venv .venv)",
        required=True,
    )


def packages(distribution: str = "dataplatform") -> Check:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - packaging comes with the toolchain
        return Check("packages", WARN, "cannot check versions (packaging not installed)")
    problems = []
    checked = 0
    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return Check(
            "packages",
            FAIL,
            f"{distribution} is not installed",
            'pip install -e ".[dev,dbt]"',
            required=True,
        )
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        checked += 1
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement.name} missing")
            continue
        if installed not in requirement.specifier:
            problems.append(f"{requirement.name} {installed} (wants {requirement.specifier})")
    if problems:
        return Check(
            "packages", FAIL, "; ".join(problems), 'pip install -e ".[dev,dbt]"', required=True
        )
    return Check("packages", OK, f"{checked} dependencies at their pinned versions", required=True)


def docker_engine(client_factory: Callable | None = None) -> Check:
    from dataplatform.images import engine

    try:
        client = (client_factory or engine.client)()
        info = client.info()
    except EngineUnavailable as exc:  # the cause and its fix, from where they are known
        return Check("docker", FAIL, exc.reason, exc.fix, required=True)
    except UserError as exc:
        return Check("docker", FAIL, str(exc), engine.START, required=True)
    root = info.get("DockerRootDir", "")
    free = shutil.disk_usage(root).free if root and os.path.isdir(root) else None
    observed = f"engine {info.get('ServerVersion')}, storage {info.get('Driver')}" + (
        f", {free / 1024**3:.0f} GiB free for images" if free is not None else ""
    )
    if free is not None and free < MIN_FREE_DISK:
        return Check(
            "docker", WARN, observed, "free disk space or run `invoke cache.clean`", required=True
        )
    return Check("docker", OK, observed, required=True)


def free_memory(meminfo: Path = Path("/proc/meminfo")) -> Check:
    try:
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines())
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return Check("memory", WARN, "unknown (no /proc/meminfo)")
    shown = f"{available / 1024**3:.1f} GiB available"
    if available < MIN_FREE_MEMORY:
        return Check(
            "memory",
            WARN,
            shown,
            "close programs or give Docker/WSL more memory: the full platform wants 4 GiB",
        )
    return Check("memory", OK, shown)


def ports(project: Project) -> Check:
    from dataplatform.services import desired as desired_mod
    from dataplatform.services import ports as port_probe
    from dataplatform.services.manifest import load_services

    manifest = load_services(project)
    values = interpolate.variables(project.root)
    busy = []
    checked = 0
    engine_view: list[Observed | None] = []  # the engine's containers, read once if needed
    for service in manifest.services.values():
        for text in service.ports:
            try:
                port = desired_mod.parse_port(interpolate.interpolate(text, values, "x"), "x")
            except UserError:
                continue  # a missing ${VAR} is the env check's business
            if port.host is None:
                continue
            checked += 1
            if not port_probe.is_free(port.host, port.host_ip, port.protocol):
                if not engine_view:
                    engine_view.append(_containers(manifest.namespace))
                holder = engine_view[0].port_holder(port.host) if engine_view[0] else None
                if holder is not None and holder.namespace == manifest.namespace:
                    continue  # ours: `up` replaces it
                who = holder.describe() if holder else port_probe.process_holding(port.host)
                busy.append(f"{port.host} ({service.name}) held by {who or 'something else'}")
    if busy:
        return Check(
            "ports",
            FAIL,
            "; ".join(busy),
            "stop what holds them, or change the port variables in .env (e.g. POSTGRES_PORT)",
            required=True,
        )
    return Check("ports", OK, f"{checked} published port(s) free or ours", required=True)


def _containers(namespace: str) -> Observed | None:
    """Every container, read as `up` reads them (services.observe: which one holds a host port
    is `Observed.port_holder`); None when no engine answers."""
    import docker.errors
    import requests

    from dataplatform.services.observe import observe

    try:
        return observe(namespace)
    # no engine, or it failed to answer
    except (UserError, docker.errors.DockerException, requests.RequestException):
        return None


def env_file(project: Project) -> Check:
    """`.env` is there, well-formed, and sets every variable services.yaml needs."""
    from dataplatform.services.manifest import load_services

    path = project.env_file
    if not path.exists():
        return Check("env", FAIL, ".env missing", "invoke setup", required=True)
    parsed = envfile.read(path)
    if parsed.malformed:
        number, problem = parsed.malformed[0]
        return Check(
            "env",
            FAIL,
            f".env:{number}: {problem}",
            f"fix or remove line {number} of .env",
            required=True,
        )
    needed = set()
    for service in load_services(project).services.values():
        texts = (
            [v for _, v in service.environment]
            + list(service.ports)
            + list(service.volumes)
            + [service.image or ""]
        )
        for text in texts:
            for name, has_default in interpolate.references(text):
                if not has_default:
                    needed.add(name)
    missing = sorted(n for n in needed if n not in parsed.values and n not in os.environ)
    if missing:
        known = {key for key, _ in envfile.template_entries(project.root)}
        fixes = []
        if in_template := [n for n in missing if n in known]:
            fixes.append(f"invoke setup (adds {', '.join(in_template)}, keeps your values)")
        if unknown := [n for n in missing if n not in known]:
            fixes.append(
                f"add {', '.join(f'{n}=…' for n in unknown)} to .env (or to "
                f"{envfile.TEMPLATE} so invoke setup writes it for everyone)"
            )
        return Check("env", FAIL, f"missing {', '.join(missing)}", "; ".join(fixes), required=True)
    return Check("env", OK, f"{len(parsed.values)} keys, every referenced one set", required=True)


def env_mode(project: Project) -> Check:
    """`.env` holds secrets: only its owner may read it."""
    path = project.env_file
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return Check("env-mode", OK, "no .env yet", required=True)
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
        return Check(
            "env-mode",
            FAIL,
            f".env is mode {mode:04o}: open to {who}",
            "chmod 600 .env",
            required=True,
        )
    return Check("env-mode", OK, f".env is mode {mode:04o} (owner only)", required=True)


def secrets(project: Project) -> Check:
    """Every secret the template generates is set to a real one: not left at the template's
    placeholder, not a well-known default or short, and a Fernet key that Fernet accepts."""
    if not project.env_file.exists():
        return Check("secrets", OK, "no .env yet (invoke setup generates them)", required=True)
    values = settings.environment(project.root)
    user = values.get("POSTGRES_USER")
    in_env_file, in_environment, problems = [], [], []
    kinds = envfile.generated_kinds(project.root)
    for key, kind in kinds.items():
        value = values.get(key)
        if value is None:
            continue  # unset: the env check's business where something reads it
        if value in ("", "changeme") or value.startswith("<generate:"):
            problem: str | None = "left at the template default"
        else:
            problem = envfile.secret_problem(kind, value, user if key != "POSTGRES_USER" else None)
        if problem:
            where = settings.source(key, project.root)
            problems.append(f"{key} ({where}) {problem}")
            (in_environment if where == "the environment" else in_env_file).append(key)
    if not problems:
        return Check(
            "secrets", OK, f"{len(kinds)} generated secret(s) strong and valid", required=True
        )
    fixes = []
    if in_env_file:
        fixes.append(
            f"delete the line(s) of {', '.join(in_env_file)} from .env and run "
            "invoke setup (it generates new ones)"
        )
    if in_environment:
        fixes.append(
            f"set a strong value for {', '.join(in_environment)} in your environment "
            "(it overrides .env)"
        )
    return Check("secrets", FAIL, "; ".join(problems), "; ".join(fixes), required=True)


CDC_DSN = "CDC_POSTGRES_DSN"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "postgres"}


def cdc_dsn(project: Project) -> Check:
    """`CDC_POSTGRES_DSN`, when it points at the platform's PostgreSQL, carries its password."""
    values = settings.environment(project.root)
    dsn = values.get(CDC_DSN)
    if not dsn:
        return Check("cdc-dsn", OK, f"{CDC_DSN} not set")
    template = dict(envfile.template_entries(project.root)).get(CDC_DSN, "")
    fix = (
        f"set {CDC_DSN}={template} in .env (it reads POSTGRES_PASSWORD)"
        if template
        else f"put the password in {CDC_DSN}"
    )
    where = settings.source(CDC_DSN, project.root)
    try:
        parts = urllib.parse.urlsplit(dsn)
        host, password = parts.hostname, parts.password
        _ = parts.port
    except ValueError:
        return Check("cdc-dsn", WARN, f"{CDC_DSN} ({where}) is not a postgres:// URL", fix)
    if not password:
        return Check("cdc-dsn", WARN, f"{CDC_DSN} ({where}) carries no password", fix)
    expected = values.get("POSTGRES_PASSWORD")
    if host in _LOCAL_HOSTS and expected and urllib.parse.unquote(password) != expected:
        return Check(
            "cdc-dsn",
            WARN,
            f"{CDC_DSN} ({where}) has a password other than "
            "POSTGRES_PASSWORD for the platform's PostgreSQL",
            fix,
        )
    return Check("cdc-dsn", OK, f"{CDC_DSN} carries a password")


def git_present() -> Check:
    found = shutil.which("git")
    if found:
        return Check("git", OK, found, required=True)
    return Check(
        "git", FAIL, "not found", "install git (apt install git / brew install git)", required=True
    )


def wsl(project: Project, proc_version: Path = Path("/proc/version")) -> Check:
    try:
        text = proc_version.read_text().lower()
    except OSError:
        text = ""
    if "microsoft" not in text:
        return Check("wsl", OK, "not WSL")
    if str(project.root).startswith("/mnt/"):
        return Check(
            "wsl",
            WARN,
            f"WSL2, repository on the Windows filesystem ({project.root})",
            "clone it under your Linux home (e.g. ~/src): builds and file watching "
            "are many times faster there",
        )
    return Check("wsl", OK, "WSL2, repository on the Linux filesystem")


def registry(project: Project) -> Check:
    value = settings.setting(settings.REGISTRY, project.root)
    problem = settings.registry_problem(value) if value else None
    if problem:
        return Check(
            "registry",
            FAIL,
            f"{settings.REGISTRY}={value!r} "
            f"({settings.source(settings.REGISTRY, project.root)}) {problem}",
            f"correct {settings.REGISTRY} there, or remove it to build locally",
            required=True,
        )
    configured = settings.registry(project.root)
    if not configured:
        return Check("registry", OK, "none configured (images are built locally)")
    host = configured.split("/", 1)[0]
    for scheme in ("https", "http"):
        try:
            urllib.request.urlopen(f"{scheme}://{host}/v2/", timeout=3)
            return Check("registry", OK, f"{configured} answers")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # needs a login, but it is there
                return Check("registry", OK, f"{configured} answers (login required)")
        except (OSError, ValueError):
            continue
    return Check(
        "registry",
        WARN,
        f"{configured} does not answer",
        "start it, fix DATAPLATFORM_REGISTRY in .env, or remove it to build locally",
    )


def kerberos(project: Project, env: dict[str, str] | None = None) -> list[Check]:
    """krb5.conf, ticket, cache type and KDC (dataplatform/kerberos/diagnose.py), when
    services.yaml uses the kdc or kerberos-sidecar template or `kerberos: true`."""
    from dataplatform.kerberos import config, diagnose
    from dataplatform.services.manifest import load_services

    try:
        manifest = load_services(project)
    except UserError:
        return []  # a broken services.yaml is reported by the checks that need it
    if not config.uses_kerberos(manifest):
        return []
    return [
        Check(f.name, f.status, f.observed, f.fix)
        for f in diagnose.doctor(env, config.realm(manifest, project.root))
    ]


def run_all(project: Project) -> list[Check]:
    return [
        python_version(),
        packages(),
        git_present(),
        docker_engine(),
        free_memory(),
        ports(project),
        env_file(project),
        env_mode(project),
        secrets(project),
        cdc_dsn(project),
        wsl(project),
        registry(project),
        *kerberos(project),
    ]


def as_json(results: list[Check]) -> str:
    return json.dumps(
        {
            "checks": [r.as_dict() for r in results],
            "ok": not any(r.status == FAIL and r.required for r in results),
        },
        indent=2,
    )
