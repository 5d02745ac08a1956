-- A reading can never report more occupied spaces than the facility has, nor fewer than zero.
select *
from {{ ref('fct_hourly_occupancy') }}
where occupied_spaces > capacity or occupied_spaces < 0
