{{ config(meta={'dagster': {'ref': {'name': 'similar_municipality_contributions'}}}) }}
-- The variables' contributions to a pair's distance add up to distance^2, and their shares to 1 (when the
-- two are not identical).
select
    contributions.municipality_id,
    contributions.year,
    contributions.similar_municipality_id,
    any_value(neighbours.distance) as distance,
    sum(contributions.squared_distance_part) as contribution_sum,
    sum(contributions.squared_distance_share) as share_sum
from {{ ref('similar_municipality_contributions') }} as contributions
inner join {{ ref('similar_municipalities') }} as neighbours
    on
        contributions.municipality_id = neighbours.municipality_id
        and contributions.year = neighbours.year
        and contributions.similar_municipality_id = neighbours.similar_municipality_id
group by contributions.municipality_id, contributions.year, contributions.similar_municipality_id
having
    abs(sum(contributions.squared_distance_part) - any_value(neighbours.distance) ^ 2) > 1e-9
    or (any_value(neighbours.distance) > 0 and abs(sum(contributions.squared_distance_share) - 1) > 1e-9)
