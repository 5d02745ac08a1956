with source as (
    select * from {{ ref('parking_occupancy') }}
),

renamed as (
    select
        cast(reading_id as integer) as reading_id,
        cast(facility_id as integer) as facility_id,
        cast(observed_at as timestamp) as observed_at,
        cast(occupied_spaces as integer) as occupied_spaces
    from source
)

select * from renamed
