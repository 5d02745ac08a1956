-- generated from pipelines/golden_tenant/pipeline.yaml — edit it instead
CREATE SCHEMA IF NOT EXISTS "shop";
