"""dbt projects of pipelines: where their inputs and build outputs are (`layout`), the build's
profiles and `dbt parse`/`dbt build` runs on the embedded DuckDB warehouse or PostgreSQL
(`runner`), dbt's own errors turned into one line each (`diagnostics`) and the SQL keywords a
model name must not be (`keywords`). The staging layer derived from CDC tables is
`dataplatform.cdc.dbt_staging`'s."""
