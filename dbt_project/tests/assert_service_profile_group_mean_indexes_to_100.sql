-- By construction the members' indices average exactly 100 (mean of 100 * v / mean(v)); anything else
-- means the profile's group stats and its rows disagree about who the members are.
select
    indicator_id,
    year,
    avg(index_asss) as mean_member_index
from {{ ref('service_profile') }}
where is_asss_member and value is not null and asss_mean != 0
group by indicator_id, year
having abs(avg(index_asss) - 100) > 1e-6
