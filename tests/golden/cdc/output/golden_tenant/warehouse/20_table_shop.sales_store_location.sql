-- generated from pipelines/golden_tenant/pipeline.yaml — edit it instead
-- Replica of sales.Store Location (SQL Server), one row per key and tenant.
-- A deleted key stays as a tombstone ("__cdc_operation" = 'd') so that no older change
-- replayed later can bring it back; dbt staging shows only the other rows.
CREATE TABLE IF NOT EXISTS "shop"."sales_store_location" (
    "tenant_id" text NOT NULL,
    "Store Id" bigint NOT NULL,
    "Årsak" varchar(20) NOT NULL,
    "User" varchar(50),
    "__cdc_operation" char(1) NOT NULL DEFAULT 'c',
    "__cdc_lsn" bytea NOT NULL DEFAULT '\x'::bytea,
    "__cdc_seq" bytea NOT NULL DEFAULT '\x'::bytea,
    "__cdc_commit_time" timestamp(3),
    "__cdc_loaded_at" timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "sales_store_location_pkey" PRIMARY KEY ("tenant_id", "Store Id", "Årsak")
);
ALTER TABLE "shop"."sales_store_location" ADD COLUMN IF NOT EXISTS "User" varchar(50);
ALTER TABLE "shop"."sales_store_location" ADD COLUMN IF NOT EXISTS "__cdc_operation" char(1) DEFAULT 'c';
ALTER TABLE "shop"."sales_store_location" ADD COLUMN IF NOT EXISTS "__cdc_lsn" bytea DEFAULT '\x'::bytea;
ALTER TABLE "shop"."sales_store_location" ADD COLUMN IF NOT EXISTS "__cdc_seq" bytea DEFAULT '\x'::bytea;
ALTER TABLE "shop"."sales_store_location" ADD COLUMN IF NOT EXISTS "__cdc_commit_time" timestamp(3);
ALTER TABLE "shop"."sales_store_location" ADD COLUMN IF NOT EXISTS "__cdc_loaded_at" timestamptz DEFAULT now();
COMMENT ON TABLE "shop"."sales_store_location" IS 'CDC replica of sales.Store Location from source group shop';
