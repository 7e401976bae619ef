-- Every mean of the group's values lies between the group's min and max (a ratio of sums of recomputed
-- values need not, when published values are rounded; a mean weighted by own population must).
select
    indicator_id,
    year,
    min_value,
    mean_unweighted,
    mean_weighted,
    max_value
from {{ ref('asss_aggregates') }}
where
    mean_unweighted < min_value - 1e-9
    or mean_unweighted > max_value + 1e-9
    or (weighting = 'own_population' and (mean_weighted < min_value - 1e-9 or mean_weighted > max_value + 1e-9))
