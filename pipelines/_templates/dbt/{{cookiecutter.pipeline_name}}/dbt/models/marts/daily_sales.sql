select
    cast(occurred_at as date) as sales_date,
    count(*) as sales,
    sum(amount) as revenue
from {{ ref('stg_events') }}
where event_kind = 'sale'
group by 1
