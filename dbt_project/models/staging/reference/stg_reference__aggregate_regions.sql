-- Aggregate regions SSB publishes beside the municipalities (EAK, EAKUO, EKGnn).
with

source as (
    select * from {{ ref('aggregate_regions') }}
)

select
    upper(trim(cast(region_code as varchar))) as region_code,
    name as region_name,
    lower(trim(kind)) as region_kind
from source
