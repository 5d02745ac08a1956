"""Create a database on the platform's PostgreSQL unless it exists: the orchestrators' init jobs
run this before their migrations, so Airflow, Dagster and the warehouse each keep a database of
their own (Airflow's and Dagster's migration tables would collide in one).

    python create_database.py NAME      (connection from POSTGRES_HOST/PORT/USER/PASSWORD)
"""

import os
import re
import sys

import psycopg2


def main() -> int:
    name = sys.argv[1] if len(sys.argv) == 2 else ""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        print(f"create_database: {name!r} is not a database name", file=sys.stderr)
        return 2
    connection = psycopg2.connect(
        host=os.environ.get("POSTGRES_HOST", "postgres"),
        port=int(os.environ.get("POSTGRES_PORT", "5432")),
        user=os.environ.get("POSTGRES_USER", "postgres"),
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname="postgres",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("select 1 from pg_database where datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'create database "{name}"')
            print(f"created database {name}")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
