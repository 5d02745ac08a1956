"""Kerberos in services.yaml: what `kerberos: true` gives a service (the shared cache mounted
read-only, KRB5CCNAME and KRB5_CONFIG), and the checks that run when services.yaml loads, so a
bad principal, a missing keytab or two realms is one line before anything starts.

The names here are the one place the cache volume, its mount point and the variables are
defined; the kdc and kerberos-sidecar templates write the same paths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dataplatform.config.yamlsource import YamlDocument
from dataplatform.errors import UserError
from dataplatform.kerberos import kdc

CACHE_VOLUME = "kerberos-cache"  # top-level volume the sidecar writes, consumers read
KEYTAB_VOLUME = "kerberos-keytabs"  # top-level volume the kdc exports keytabs into
MOUNT = "/krb"
CCACHE = f"FILE:{MOUNT}/ccache"
KRB5_CONF = f"{MOUNT}/krb5.conf"
KDC_TEMPLATE = "kdc"
SIDECAR_TEMPLATE = "kerberos-sidecar"
DEFAULT_REALM = "DEV.LOCAL"


def consumer_volumes() -> tuple[str, ...]:
    """What `kerberos: true` mounts."""
    return (f"{CACHE_VOLUME}:{MOUNT}:ro",)


def consumer_environment() -> tuple[tuple[str, str], ...]:
    """What `kerberos: true` sets (a service's own value of the same name wins)."""
    return (("KRB5CCNAME", CCACHE), ("KRB5_CONFIG", KRB5_CONF))


def _template(service: Any) -> str | None:
    return (service.template or "").partition(":")[0] or None


def uses_kerberos(manifest: Any) -> bool:
    """services.yaml has a kdc or kerberos-sidecar service, or a `kerberos: true` one."""
    return any(
        _template(s) in (KDC_TEMPLATE, SIDECAR_TEMPLATE) or getattr(s, "kerberos", False)
        for s in manifest.services.values()
    )


def sidecars(manifest: Any) -> list[str]:
    """The services that run the kerberos-sidecar template, in services.yaml's order."""
    return [name for name, s in manifest.services.items() if _template(s) == SIDECAR_TEMPLATE]


def realm(manifest: Any, root: Path) -> str | None:
    """The realm services.yaml's kdc or kerberos-sidecar uses (None when neither is there)."""
    from dataplatform.interpolate import variables

    values = variables(root)
    for service in manifest.services.values():
        if _template(service) in (KDC_TEMPLATE, SIDECAR_TEMPLATE):
            return _value(service, "KRB5_REALM", values, DEFAULT_REALM)
    return None


def _declared_key(doc: YamlDocument, service: str) -> str:
    """The services.yaml key a (template-expanded) service was declared under."""
    keys = [str(k) for k in ((doc.data or {}).get("services") or {})]
    if service in keys:
        return service
    prefixed = [k for k in keys if service.startswith(f"{k}-")]
    return max(prefixed, key=len) if prefixed else service


def _value(service: Any, name: str, values: Mapping[str, str], default: str = "") -> str:
    from dataplatform.interpolate import interpolate

    raw = dict(service.environment).get(name)
    if raw is None:
        return default
    try:
        return interpolate(raw, values, service.declared_in)
    except UserError:
        return default  # an unset ${VAR} is the env check's business


def consumer(service: Any) -> Any:
    """A `kerberos: true` service with the cache mounted and the variables set (a value the
    service sets itself wins); any other service as it is."""
    if not getattr(service, "kerberos", False):
        return service
    mount = consumer_volumes()
    own = dict(service.environment)
    return dataclasses.replace(
        service,
        volumes=(*service.volumes, *(m for m in mount if m not in service.volumes)),
        environment=(
            *((k, v) for k, v in consumer_environment() if k not in own),
            *service.environment,
        ),
    )


def applied(manifest: Any) -> Any:
    """The manifest with `kerberos: true` expanded (every reader — up, status, compose — sees
    the mount and the variables) and the shared volumes Kerberos needs declared (not
    persistent) where services.yaml does not declare them itself."""
    if not uses_kerberos(manifest):
        return manifest
    from dataplatform.services.manifest import Volume

    volumes = dict(manifest.volumes)
    for key in (CACHE_VOLUME, KEYTAB_VOLUME):
        volumes.setdefault(key, Volume(key, False, "dataplatform.kerberos"))
    services = {name: consumer(service) for name, service in manifest.services.items()}
    return dataclasses.replace(manifest, volumes=volumes, services=services)


def check(doc: YamlDocument, manifest: Any, root: Path) -> None:
    """Raise a ConfigError (file, line, key) for the first Kerberos mistake in services.yaml."""
    if not uses_kerberos(manifest):
        return
    from dataplatform.interpolate import variables

    values = variables(root)
    services = manifest.services
    kdcs = [s for s in services.values() if _template(s) == KDC_TEMPLATE]
    sidecars = [s for s in services.values() if _template(s) == SIDECAR_TEMPLATE]

    def where(service: Any, *key: str) -> tuple[str, ...]:
        return ("services", _declared_key(doc, service.name), *key)

    realms: dict[str, str] = {}
    listed: set[str] = set()
    for service in kdcs:
        realm = _value(service, "KRB5_REALM", values, DEFAULT_REALM)
        if not kdc.REALM.match(realm):
            raise doc.error(
                where(service, "environment", "KRB5_REALM"),
                f"realm {realm!r} is not valid",
                "use upper-case letters, digits, '.', '_' or '-', e.g. DEV.LOCAL",
            )
        realms[service.name] = realm
        for name in kdc._env_list(_value(service, "KDC_PRINCIPALS", values)):
            if problem := kdc.principal_problem(name, realm):
                raise doc.error(
                    where(service, "environment", "KDC_PRINCIPALS"),
                    problem,
                    "fix the name in the list (names are separated by spaces)",
                )
            listed.add(kdc.qualified(name, realm))
    for service in sidecars:
        realm = _value(service, "KRB5_REALM", values, DEFAULT_REALM)
        for kdc_name, kdc_realm in realms.items():
            if realm != kdc_realm:
                raise doc.error(
                    where(service, "environment", "KRB5_REALM"),
                    f"realm {realm} differs from the {kdc_realm} of service {kdc_name}",
                    "set the same KRB5_REALM on both (or remove the kdc service "
                    "to use your organisation's KDC)",
                )
        principal = _value(service, "KRB5_PRINCIPAL", values)
        if principal and "@" in principal and principal.rpartition("@")[2] != realm:
            raise doc.error(
                where(service, "environment", "KRB5_PRINCIPAL"),
                f"{principal!r} is in realm {principal.rpartition('@')[2]}, the "
                f"sidecar's realm is {realm}",
                "write the principal without @REALM or with the same realm",
            )
        command = service.command if isinstance(service.command, tuple) else ()
        if "forward" in command:
            continue
        keytab = _value(service, "KRB5_KEYTAB", values)
        _check_keytab(
            doc,
            where(service, "environment", "KRB5_KEYTAB"),
            service,
            keytab,
            principal,
            realm,
            listed if kdcs else None,
            root,
        )


def _check_keytab(
    doc: YamlDocument,
    keypath: tuple[str, ...],
    service: Any,
    keytab: str,
    principal: str,
    realm: str,
    listed: set[str] | None,
    root: Path,
) -> None:
    """The sidecar's keytab comes from a host file (must exist) or from the kdc's keytab
    volume (the kdc must list the principal)."""
    if not keytab:
        raise doc.error(
            keypath,
            "no keytab for the sidecar's kinit",
            "set KRB5_KEYTAB (or run the sidecar with command: [..., forward])",
        )
    for text in service.volumes:
        source, _, rest = text.partition(":")
        target = rest.split(":")[0]
        if not keytab.startswith(target.rstrip("/") + "/") and keytab != target:
            continue
        if source.startswith((".", "/", "~")):
            host = (root / source).resolve() if not source.startswith("/") else Path(source)
            host = host / Path(keytab).relative_to(target) if keytab != target else host
            if not host.is_file():
                raise doc.error(
                    keypath,
                    f"keytab {keytab} comes from {host}, which does not exist",
                    "export it there (ktutil, or ask your AD admins) or fix the volume",
                )
        elif source == KEYTAB_VOLUME and listed is not None:
            wanted = kdc.keytab_file(principal)
            full = kdc.qualified(principal, realm)
            if Path(keytab).name != wanted or full not in listed:
                raise doc.error(
                    keypath,
                    f"the kdc exports no keytab {keytab} for {full} "
                    f"(it writes {wanted} for each name in KDC_PRINCIPALS)",
                    f"add {principal} to the kdc's KDC_PRINCIPALS and set "
                    f"KRB5_KEYTAB: {target}/{wanted}",
                )
        return
