-- generated from pipelines/golden_shared/pipeline.yaml and platform/cdc/source-groups.yaml — edit those instead
with source as (
    select * from {{ source('ledger', 'gl_entry') }}
    where "__cdc_operation" is distinct from 'd'  -- not a deleted row's tombstone
),

renamed as (
    select
        cast("CompanyId" as integer) as company_id,
        cast("EntryNo" as integer) as entry_no,
        cast("Amount" as numeric(38,20)) as amount,
        cast("Description" as varchar(200)) as description,
        cast("__cdc_operation" as char(1)) as cdc_operation,
        cast("__cdc_commit_time" as timestamp) as cdc_committed_at,
        cast("__cdc_loaded_at" as timestamptz) as cdc_loaded_at
    from source
)

select * from renamed
