select
    facility_id,
    facility_name,
    zone,
    facility_kind,
    capacity
from {{ ref('stg_parking__facilities') }}
