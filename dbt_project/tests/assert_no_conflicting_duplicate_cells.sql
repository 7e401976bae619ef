-- One published cell appears once per release; the staging model keeps one copy of a cell landed twice.
-- That is only sound when the copies agree: two different values for one cell in one release are a
-- loader or landing defect. Only a release landed as several objects can hold copies, so only its cells are
-- keyed and grouped (every raw cell took 3 s of each build; the demo has no such release).
with

several_objects as (
    {{ several_object_releases(source('raw', 'cells')) }}
),

cells as (
    select
        raw_cells.table_id,
        raw_cells.release_updated,
        raw_cells.region_code,
        raw_cells.period,
        raw_cells.value,
        raw_cells.status,
        {{ dimension_key() }} as dimension_key
    from {{ source('raw', 'cells') }} as raw_cells
    inner join several_objects
        on
            raw_cells.table_id = several_objects.table_id
            and raw_cells.release_updated = several_objects.release_updated
)

select
    table_id,
    release_updated,
    region_code,
    period,
    dimension_key,
    count(distinct coalesce(cast(value as varchar), '') || '/' || coalesce(status, '')) as versions
from cells
group by table_id, release_updated, region_code, period, dimension_key
having count(distinct coalesce(cast(value as varchar), '') || '/' || coalesce(status, '')) > 1
