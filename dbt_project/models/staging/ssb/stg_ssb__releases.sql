-- One row per table release.
with

source as (
    select * from {{ source('raw', 'releases') }}
)

select
    cast(table_id as varchar) as table_id,
    cast(release_updated as timestamp) as release_updated,
    title,
    source as release_source,
    cast(newest_year as integer) as newest_year,
    cast(cells as bigint) as cells,
    cast(first_loaded_at as timestamp) as first_loaded_at
from source
