-- generated from pipelines/golden_tenant/pipeline.yaml — edit it instead
CREATE OR REPLACE TRIGGER "all_types_version_update"
    AFTER UPDATE ON "shop"."all_types"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION "shop"."all_types_versioning"();
