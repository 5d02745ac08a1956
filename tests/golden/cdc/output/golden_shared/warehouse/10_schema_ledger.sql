-- generated from pipelines/golden_shared/pipeline.yaml — edit it instead
CREATE SCHEMA IF NOT EXISTS "ledger";
