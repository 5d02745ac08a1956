-- generated from pipelines/golden_shared/pipeline.yaml — edit it instead
-- Replica of dbo.GLEntry (SQL Server), one row per key.
-- A deleted key stays as a tombstone ("__cdc_operation" = 'd') so that no older change
-- replayed later can bring it back; dbt staging shows only the other rows.
CREATE TABLE IF NOT EXISTS "ledger"."gl_entry" (
    "CompanyId" integer NOT NULL,
    "EntryNo" integer NOT NULL,
    "Amount" numeric(38,20),
    "Description" varchar(200),
    "__cdc_operation" char(1) NOT NULL DEFAULT 'c',
    "__cdc_lsn" bytea NOT NULL DEFAULT '\x'::bytea,
    "__cdc_seq" bytea NOT NULL DEFAULT '\x'::bytea,
    "__cdc_commit_time" timestamp(3),
    "__cdc_loaded_at" timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "gl_entry_pkey" PRIMARY KEY ("CompanyId", "EntryNo")
);
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "Amount" numeric(38,20);
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "Description" varchar(200);
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "__cdc_operation" char(1) DEFAULT 'c';
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "__cdc_lsn" bytea DEFAULT '\x'::bytea;
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "__cdc_seq" bytea DEFAULT '\x'::bytea;
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "__cdc_commit_time" timestamp(3);
ALTER TABLE "ledger"."gl_entry" ADD COLUMN IF NOT EXISTS "__cdc_loaded_at" timestamptz DEFAULT now();
COMMENT ON TABLE "ledger"."gl_entry" IS 'CDC replica of dbo.GLEntry from source group ledger';
