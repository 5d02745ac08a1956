-- One row per event of the seed, typed and named for the rest of the project.
with source as (
    select * from {{ ref('events') }}
),

renamed as (
    select
        cast(event_id as integer) as event_id,
        cast(occurred_at as timestamp) as occurred_at,
        cast(kind as varchar) as event_kind,
        cast(amount as decimal(12, 2)) as amount
    from source
)

select * from renamed
