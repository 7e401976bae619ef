-- The Python quality stage's findings, typed and renamed as the marts name them.
with

source as (
    select * from {{ source('quality', 'findings') }}
)

select
    cast(run_id as varchar) as run_id,
    cast("check" as varchar) as check_name,
    upper(cast(severity as varchar)) as severity,
    cast(sector as varchar) as sector,
    cast(table_id as varchar) as table_id,
    cast(contents_code as varchar) as contents_code,
    cast(indicator_id as varchar) as indicator_id,
    cast(region_code as varchar) as region_code,
    cast(municipality_id as varchar) as municipality_id,
    cast(year as integer) as year,
    cast(vintage as varchar) as vintage,
    cast(observed as double) as observed,
    cast(expected as varchar) as expected_range,
    cast(message as varchar) as message,
    cast(cells as varchar) as cells
from source
