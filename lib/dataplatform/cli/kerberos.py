"""`invoke kerberos.test-login SERVICE`: a GSSAPI (Kerberos) login to a PostgreSQL service of
services.yaml with this workstation's ticket and krb5.conf, and one line that says why it fails
(the diagnosis lives in dataplatform.kerberos.diagnose)."""

from __future__ import annotations

import getpass

from dataplatform.cli.common import command, console
from dataplatform.errors import UserError
from dataplatform.project import find_project


def _published_port(project, name: str) -> int:
    from dataplatform import interpolate
    from dataplatform.config.validate import suggestion
    from dataplatform.services import desired
    from dataplatform.services.manifest import load_services

    manifest = load_services(project)
    service = manifest.services.get(name)
    if service is None:
        near = suggestion(name, manifest.services)
        raise UserError(f"no service {name!r} in {manifest.declared_in}"
                        + (f" — did you mean '{near}'?" if near else
                           f" — services: {', '.join(sorted(manifest.services))}"))
    values = interpolate.variables(project.root)
    for text in service.ports:
        port = desired.parse_port(interpolate.interpolate(text, values, service.declared_in),
                                  service.declared_in)
        if port.host is not None:
            return port.host
    raise UserError(f"service {name!r} publishes no port ({service.declared_in}) — give "
                    "--port")


def _default_user() -> str:
    """The ticket's principal without instance and realm (alice/admin@R → alice)."""
    import os

    from dataplatform.kerberos import ccache, diagnose

    try:
        name = diagnose.cache_name(os.environ, diagnose.load_config(os.environ))
        return ccache.read(name).principal.split("@")[0].split("/")[0]
    except ccache.CacheError:
        return getpass.getuser()


@command(
    name="test-login",
    auto_shortflags=False,  # -h is help, not --host
    help={"service": "the PostgreSQL service of services.yaml to log in to (e.g. postgres)",
          "user": "database role (default: your ticket's principal, without @REALM)",
          "host": "host name to connect to; the server's principal is KRBSRVNAME/HOST "
                  "(default localhost)",
          "port": "port (default: the port the service publishes)",
          "dbname": "database (default postgres)",
          "krbsrvname": "first part of the server's service principal (default postgres)"},
)
def test_login(c, service, user=None, host="localhost", port=None, dbname="postgres",
               krbsrvname="postgres"):
    """Log in to SERVICE with GSSAPI (Kerberos, encrypted) and say why it fails.

    Uses this workstation's ticket cache (KRB5CCNAME) and krb5.conf (KRB5_CONFIG) — the ones
    the kerberos-sidecar or `kinit` filled. On success prints the principal the server saw;
    on failure one line names the cause and its fix: no ticket, clock skew, wrong SPN (the
    server's principal is not in the KDC), KDC unreachable, or a principal the server does
    not accept. Exits 1 on failure."""
    from dataplatform.kerberos import diagnose

    project = find_project()
    if port is None:
        number = _published_port(project, service)
    else:
        try:
            number = int(port)
        except ValueError:
            raise UserError(f"--port {port!r} is not a port number — e.g. --port 5432") from None
    role = user or _default_user()
    conninfo = (f"host={host} port={number} user={role} dbname={dbname} "
                f"krbsrvname={krbsrvname}")
    result = diagnose.test_login(conninfo)
    target = f"{service} ({host}:{number}, role {role}, principal {krbsrvname}/{host})"
    if not result.ok:
        raise UserError(f"{target}: {result.line}")
    console.print(f"✓ {target}: {result.line}", markup=False)
