-- generated from pipelines/golden_tenant/pipeline.yaml — edit it instead
-- The source checkpoints (Redpanda Connect's sql cache: the last LSN each source
-- table delivered).
CREATE TABLE IF NOT EXISTS "shop"."_cdc_checkpoint" (
    "key" text NOT NULL,
    "value" text NOT NULL,
    "updated_at" timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "_cdc_checkpoint_pkey" PRIMARY KEY ("key")
);
ALTER TABLE "shop"."_cdc_checkpoint" ADD COLUMN IF NOT EXISTS "value" text;
ALTER TABLE "shop"."_cdc_checkpoint" ADD COLUMN IF NOT EXISTS "updated_at" timestamptz DEFAULT now();
COMMENT ON TABLE "shop"."_cdc_checkpoint" IS 'CDC checkpoints of pipeline golden_tenant';
