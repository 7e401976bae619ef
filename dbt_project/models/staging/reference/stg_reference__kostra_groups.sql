-- KOSTRA group (EKGnn) of each municipality code over a range of years.
with

source as (
    select * from {{ ref('kostra_groups') }}
)

select
    lpad(trim(cast(municipality_code as varchar)), 4, '0') as municipality_code,
    cast(year_from as integer) as year_from,
    cast(year_to as integer) as year_to,
    upper(trim(kostra_group)) as kostra_group,
    grouping as kostra_grouping,
    source as reference_source
from source
