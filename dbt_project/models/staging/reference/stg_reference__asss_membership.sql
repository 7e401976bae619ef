-- ASSS network membership by year: member, or comparator (shown beside the network, not in its mean).
with

source as (
    select * from {{ ref('asss_membership') }}
)

select
    lpad(trim(cast(municipality_id as varchar)), 4, '0') as municipality_id,
    name as municipality_name,
    cast(year as integer) as year,
    lower(trim(role)) as role
from source
