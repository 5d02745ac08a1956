"""SQL Server data source names as Redpanda Connect's `mssql` driver reads them.

Redpanda Connect 4.103.1 opens `sql_raw`/`sql_select`/the `sql` cache with driver `mssql`
through github.com/microsoft/go-mssqldb v1.9.8, passing the `dsn` as it is. That driver reads
three forms (msdsn/conn_str.go): `sqlserver://user:pass@host:port?database=db` (a URL: its
parts must be percent-encoded), `odbc:key={value};...` (a `}` in a braced value must be
doubled) and, for anything else, ADO `key=value;...`, whose values may be double-quoted
(since v1.9.3): inside quotes a `;` does not end the value and `""` is one `"`.

Environment references are substituted raw (see `environment`), so nothing can encode or
double a character of a password. The generator therefore writes the ADO form with every
value quoted and the password last: `...;password="${VAR}"`. Every character is then safe
except `"` (a `"` followed later by `;`, or `""`, would still end or change it).

`parse` is a port of the driver's ADO parser (`splitAdoConnectionStringParts` and
`splitConnectionString`), so the tests can check the DSN the generator writes without the Go
driver, which cannot run here.
"""

from __future__ import annotations

SYNONYMS = {
    "application name": "app name",
    "data source": "server",
    "address": "server",
    "network address": "server",
    "addr": "server",
    "user": "user id",
    "uid": "user id",
    "pwd": "password",
    "initial catalog": "database",
}


def parts(dsn: str) -> list[str]:
    parts, current, quoted, i = [], [], False, 0
    while i < len(dsn):
        char = dsn[i]
        if char == '"':
            if quoted and i + 1 < len(dsn) and dsn[i + 1] == '"':
                current.append('""')
                i += 1
            else:
                quoted = not quoted
                current.append(char)
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if current:
        parts.append("".join(current))
    return parts


def parse(dsn: str) -> dict[str, str]:
    """The parameters go-mssqldb v1.9.8 reads from an ADO-form DSN (keys lower-cased, synonyms
    resolved, `server=host,port` split)."""
    params: dict[str, str] = {}
    for part in parts(dsn):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('""', '"')
        name = SYNONYMS.get(name, name)
        if name == "server":
            value = value.removeprefix("tcp:").removeprefix("admin:")
            host, comma, port = value.partition(",")
            if comma and port and "," not in port:
                value, params["port"] = host, port
        params[name] = value
    return params


def quote(value: str) -> str:
    """An ADO value, double-quoted (a `"` doubled): for literal values known when generating."""
    return '"' + value.replace('"', '""') + '"'


def form(dsn: str) -> str:
    if dsn.startswith("sqlserver://"):
        return "url"
    if dsn.startswith("odbc:"):
        return "odbc"
    return "ado"
