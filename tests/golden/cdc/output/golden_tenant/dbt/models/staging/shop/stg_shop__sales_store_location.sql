-- generated from pipelines/golden_tenant/pipeline.yaml and platform/cdc/source-groups.yaml — edit those instead
with source as (
    select * from {{ source('shop', 'sales_store_location') }}
    where "__cdc_operation" is distinct from 'd'  -- not a deleted row's tombstone
),

renamed as (
    select
        cast("tenant_id" as text) as tenant_id,
        cast("Store Id" as bigint) as store_id,
        cast("Årsak" as varchar(20)) as årsak,
        cast("User" as varchar(50)) as user_,
        cast("__cdc_operation" as char(1)) as cdc_operation,
        cast("__cdc_commit_time" as timestamp) as cdc_committed_at,
        cast("__cdc_loaded_at" as timestamptz) as cdc_loaded_at
    from source
)

select * from renamed
