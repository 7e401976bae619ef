-- The asss_* columns are aliases of the group_* columns (kept for analysts' existing queries): they must
-- never say something else.
select
    municipality_id,
    indicator_id,
    year
from {{ ref('service_profile') }}
where
    group_mean is distinct from asss_mean
    or group_min is distinct from asss_min
    or group_max is distinct from asss_max
    or group_member_count is distinct from asss_member_count
    or group_members_expected is distinct from asss_members_expected
    or index_group is distinct from index_asss
    or is_group_member is distinct from is_asss_member
