"""`invoke kerberos.test-login SERVICE`: a GSSAPI (Kerberos) login to a PostgreSQL service of
services.yaml, and one line that says why it fails — from inside the platform (a throwaway
client container with the kerberos-sidecar's ticket, dataplatform.kerberos.inside) or from this
workstation (its own ticket and krb5.conf). The diagnosis lives in
dataplatform.kerberos.diagnose."""

from __future__ import annotations

import getpass

from dataplatform.cli.common import command, console
from dataplatform.errors import EngineUnavailable, UserError
from dataplatform.project import find_project


def _service(manifest, name: str):
    from dataplatform.config.validate import suggestion

    service = manifest.services.get(name)
    if service is None:
        near = suggestion(name, manifest.services)
        raise UserError(
            f"no service {name!r} in {manifest.declared_in}"
            + (
                f" — did you mean '{near}'?"
                if near
                else f" — services: {', '.join(sorted(manifest.services))}"
            )
        )
    return service


def _ports(project, service) -> list:
    from dataplatform import interpolate
    from dataplatform.services import desired

    values = interpolate.variables(project.root)
    return [
        desired.parse_port(
            interpolate.interpolate(text, values, service.declared_in), service.declared_in
        )
        for text in service.ports
    ]


def _published_port(project, service) -> int:
    for port in _ports(project, service):
        if port.host is not None:
            return port.host
    raise UserError(
        f"service {service.name!r} publishes no port ({service.declared_in}) — "
        "give --port, or log in from inside the platform (--from platform)"
    )


def _network_port(project, service) -> int:
    """The port the service listens on inside the platform: its first declared container
    port, else PostgreSQL's 5432."""
    from dataplatform.kerberos import inside

    declared = _ports(project, service)
    return declared[0].container if declared else inside.DEFAULT_PORT


def _port_option(port: str) -> int:
    try:
        return int(port)
    except ValueError:
        raise UserError(f"--port {port!r} is not a port number — e.g. --port 5432") from None


def _default_user() -> str:
    """This workstation's ticket's principal without instance and realm (alice/admin@R →
    alice)."""
    import os

    from dataplatform.kerberos import ccache, diagnose

    try:
        name = diagnose.cache_name(os.environ, diagnose.load_config(os.environ))
        return ccache.read(name).primary
    except ccache.CacheError:
        return getpass.getuser()


def _stack(manifest, requested: str | None):
    """The running platform as `--from platform` needs it; None when the default may fall
    back to this workstation (no sidecar declared, or no engine answers)."""
    from dataplatform.kerberos import config, inside

    sidecars = config.sidecars(manifest)
    if requested == inside.HOST or (requested is None and not sidecars):
        return None
    if not sidecars:
        raise UserError(
            f"{manifest.declared_in} has no kerberos-sidecar service, so no ticket "
            "is shared inside the platform",
            "add one (README, Kerberos) or log in from this workstation: --from host",
        )
    try:
        return inside.observe(manifest.namespace, sidecars)
    except EngineUnavailable:
        if requested == inside.PLATFORM:
            raise
        return None


def _from_platform(project, manifest, service, stack, user, host, port, dbname, krbsrvname):
    from dataplatform.images import engine
    from dataplatform.kerberos import diagnose, inside

    if stack.sidecar is None:
        raise UserError(
            "the kerberos-sidecar is not running, so there is no ticket inside the platform",
            "start it (invoke up --profile kerberos), or log in from this workstation: --from host",
        )
    if service.name not in stack.running:
        raise UserError(
            f"service {service.name} is not running",
            f"start it (invoke up {service.name}), then try again",
        )
    target = inside.Target(
        service.name,
        host or service.name,
        _port_option(port) if port is not None else _network_port(project, service),
        dbname,
        krbsrvname,
        user,
    )
    spec = inside.client_spec(manifest.namespace, stack.image, target, stack.cache_volume)
    result = diagnose.psql_result(*inside.run(engine.client().api, spec))
    role = result.role or target.user
    where = (
        f"{target.host}:{target.port} inside the platform"
        + (f", role {role}" if role else "")
        + f", principal {target.spn}, "
        f"ticket from {stack.sidecar}"
    )
    return f"{service.name} ({where})", result


def _from_host(project, service, user, host, port, dbname, krbsrvname):
    from dataplatform.kerberos import diagnose

    host = host or "localhost"
    number = _published_port(project, service) if port is None else _port_option(port)
    role = user or _default_user()
    conninfo = f"host={host} port={number} user={role} dbname={dbname} krbsrvname={krbsrvname}"
    result = diagnose.test_login(conninfo)
    return f"{service.name} ({host}:{number}, role {role}, principal {krbsrvname}/{host})", result


@command(
    name="test-login",
    auto_shortflags=False,  # -h is help, not --host
    help={
        "service": "the PostgreSQL service of services.yaml to log in to (e.g. postgres)",
        "from_": "where the login runs: 'platform' — a throwaway client container on the "
        "platform's network with the kerberos-sidecar's ticket, as your services "
        "log in; 'host' — this workstation with its own ticket (KRB5CCNAME) and "
        "krb5.conf (KRB5_CONFIG). Default: platform when the kerberos-sidecar "
        "runs, else host",
        "user": "database role (default: the ticket's principal, without instance and @REALM)",
        "host": "host name to connect to; the server's principal is KRBSRVNAME/HOST "
        "(default: the service's name inside the platform, localhost from the host)",
        "port": "port (default: the service's port inside the platform — its first "
        "container port, else 5432; from the host, the port it publishes)",
        "dbname": "database (default postgres)",
        "krbsrvname": "first part of the server's service principal (default postgres)",
    },
)
def test_login(
    c,
    service,
    from_=None,
    user=None,
    host=None,
    port=None,
    dbname="postgres",
    krbsrvname="postgres",
):
    """Log in to SERVICE with GSSAPI (Kerberos, encrypted) and say why it fails.

    Inside the platform (--from platform, the default while the kerberos-sidecar runs): a
    short-lived client container of the sidecar's image joins the platform's network with
    the sidecar's ticket cache mounted read-only (KRB5CCNAME, KRB5_CONFIG as for
    `kerberos: true`) and connects to the service by its name and in-network port. From
    this workstation (--from host, the default otherwise): your ticket cache and krb5.conf —
    the ones `kinit` filled — and the port the service publishes.

    On success prints the principal the server saw and that the connection is encrypted; on
    failure one line names the cause and its fix: no ticket, clock skew, wrong SPN (the
    server's principal is not in the KDC), KDC unreachable, or a principal the server does
    not accept. Exits 1 on failure. Never prints a key or a password."""
    from dataplatform.kerberos import inside
    from dataplatform.services.manifest import load_services

    if from_ is not None:
        inside.choose(from_, False)  # a bad --from is one line before anything is read
    project = find_project()
    manifest = load_services(project)
    found = _service(manifest, service)
    stack = _stack(manifest, from_)
    source = inside.choose(from_, stack is not None and stack.sidecar is not None)
    if source == inside.PLATFORM:
        target, result = _from_platform(
            project, manifest, found, stack, user, host, port, dbname, krbsrvname
        )
    else:
        target, result = _from_host(project, found, user, host, port, dbname, krbsrvname)
    if not result.ok:
        raise UserError(f"{target}: {result.line}")
    console.print(f"✓ {target}: {result.line}", markup=False)
