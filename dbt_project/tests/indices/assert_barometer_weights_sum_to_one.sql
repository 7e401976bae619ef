{{ config(meta={'dagster': {'ref': {'name': 'barometer_sectors'}}}) }}
-- Kommunebarometer weights sum to 1: the sector weights overall, and the key-figure weights within a sector.
select
    'barometer_sectors' as seed,
    cast(null as varchar) as barometer_sector,
    sum(weight) as weight_sum
from {{ ref('barometer_sectors') }}
having abs(sum(weight) - 1) > 1e-9

union all

select
    'barometer_key_figures' as seed,
    barometer_sector,
    sum(weight) as weight_sum
from {{ ref('barometer_key_figures') }}
group by barometer_sector
having abs(sum(weight) - 1) > 1e-9
