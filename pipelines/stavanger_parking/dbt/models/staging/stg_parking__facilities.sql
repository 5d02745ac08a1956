with source as (
    select * from {{ ref('parking_facilities') }}
),

renamed as (
    select
        cast(facility_id as integer) as facility_id,
        cast(facility_name as varchar) as facility_name,
        cast(zone as varchar) as zone,
        cast(capacity as integer) as capacity,
        cast(facility_kind as varchar) as facility_kind
    from source
)

select * from renamed
