#!/bin/sh
set -e
if [ $# -gt 0 ]; then exec "$@"; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
    printf 'local all all trust\nhostgssenc all all 0.0.0.0/0 gss include_realm=0\n' \
        > "$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\nkrb_server_keyfile = '%s'\n" "$KRB_SERVER_KEYFILE" \
        >> "$PGDATA/postgresql.conf"
    for role in $GSS_ROLES; do
        echo "CREATE ROLE \"$role\" LOGIN;" | postgres --single -D "$PGDATA" postgres >/dev/null
    done
fi
exec postgres -D "$PGDATA"
