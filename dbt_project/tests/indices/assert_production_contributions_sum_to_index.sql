-- P is exactly the sum of its contributions, their shares sum to 1, and the weights behind it sum to 1.
select
    municipality_id,
    sector,
    year,
    any_value(production_index) as production_index,
    sum(contribution) as contribution_sum,
    sum(contribution_share) as share_sum,
    sum(weight) as weight_sum
from {{ ref('production_contributions') }}
where complete
group by municipality_id, sector, year
having
    abs(any_value(production_index) - sum(contribution)) > 1e-9
    or abs(sum(contribution_share) - 1) > 1e-9
    or abs(sum(weight) - 1) > 1e-9
