select
    reading_id,
    facility_id,
    observed_at,
    observed_on,
    observed_hour,
    occupied_spaces,
    capacity,
    capacity - occupied_spaces as free_spaces,
    occupancy_pct
from {{ ref('int_occupancy__rated') }}
