#!/bin/sh
# Initialise the cluster on first start (an empty volume), then run the server in front.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all 0.0.0.0/0 trust" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA"
