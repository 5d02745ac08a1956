"""dbt projects of pipelines: finding their inputs, generating profiles, running `dbt build` on
the embedded DuckDB warehouse (or PostgreSQL), and the staging layer derived from CDC tables."""
