-- Each reading with its facility and the share of capacity in use.
select
    occupancy.reading_id,
    occupancy.facility_id,
    facilities.facility_name,
    facilities.zone,
    facilities.facility_kind,
    occupancy.observed_at,
    cast(occupancy.observed_at as date) as observed_on,
    extract(hour from occupancy.observed_at) as observed_hour,
    occupancy.occupied_spaces,
    facilities.capacity,
    {{ percent_of('occupancy.occupied_spaces', 'facilities.capacity') }} as occupancy_pct
from {{ ref('stg_parking__occupancy') }} as occupancy
inner join {{ ref('stg_parking__facilities') }} as facilities
    on occupancy.facility_id = facilities.facility_id
