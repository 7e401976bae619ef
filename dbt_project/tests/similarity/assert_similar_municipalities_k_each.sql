-- Every municipality with every structural variable has exactly min(k, other candidates) neighbours each
-- year, ranked 1..n without gaps, never itself.
select
    municipality_id,
    year,
    count(*) as neighbours,
    any_value(k) as k,
    any_value(candidate_count) as candidate_count,
    max(similarity_rank) as last_rank
from {{ ref('similar_municipalities') }}
group by municipality_id, year
having
    count(*) != least(any_value(k), any_value(candidate_count))
    or max(similarity_rank) != count(*)
    or bool_or(similar_municipality_id = municipality_id)
