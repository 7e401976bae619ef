-- Every successor of every municipality and county code that ended or gave up territory, typed.
with

source as (
    select * from {{ ref('region_successors') }}
)

select
    trim(cast(region_code as varchar)) as region_code,
    cast(region_kind as varchar) as region_kind,
    trim(cast(successor_code as varchar)) as successor_code,
    cast(change_year as integer) as change_year,
    cast(change_kind as varchar) as change_kind,
    cast(share as double) as territory_share,
    cast(is_on_series_borders as boolean) as is_on_series_borders,
    cast(note as varchar) as change_note,
    source as reference_source
from source
