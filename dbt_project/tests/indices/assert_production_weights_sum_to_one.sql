-- The production weights of every version and sector sum to 1 (a smaller sum would silently shrink P).
select
    weights_version,
    sector,
    sum(weight) as weight_sum
from {{ ref('production_weights') }}
group by weights_version, sector
having abs(sum(weight) - 1) > 1e-9
