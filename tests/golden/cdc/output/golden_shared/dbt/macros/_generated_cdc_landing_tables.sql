{# generated from pipelines/golden_shared/pipeline.yaml and platform/cdc/source-groups.yaml — edit those instead #}
{% macro cdc_landing_tables() %}
  {% if target.type == 'duckdb' %}
    create schema if not exists "ledger";
    create table if not exists "ledger"."gl_entry" ("CompanyId" integer, "EntryNo" integer, "Amount" numeric(38,20), "Description" varchar(200), "__cdc_operation" char(1), "__cdc_commit_time" timestamp, "__cdc_loaded_at" timestamptz, "__cdc_lsn" blob, "__cdc_seq" blob);
  {% endif %}
{% endmacro %}
