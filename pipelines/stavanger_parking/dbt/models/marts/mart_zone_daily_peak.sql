-- Per zone and day: the busiest hour and how full the zone was then.
with by_zone_hour as (
    select
        zone,
        observed_on,
        observed_hour,
        sum(occupied_spaces) as occupied_spaces,
        sum(capacity) as capacity
    from {{ ref('int_occupancy__rated') }}
    group by 1, 2, 3
),

ranked as (
    select
        *,
        row_number() over (
            partition by zone, observed_on order by occupied_spaces desc, observed_hour
        ) as busiest
    from by_zone_hour
)

select
    zone,
    observed_on,
    observed_hour as peak_hour,
    occupied_spaces as peak_occupied_spaces,
    capacity,
    {{ percent_of('occupied_spaces', 'capacity') }} as peak_occupancy_pct
from ranked
where busiest = 1
