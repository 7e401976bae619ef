-- One published cell appears once per release; the staging model keeps one copy of a cell landed twice.
-- That is only sound when the copies agree: two different values for one cell in one release are a
-- loader or landing defect.
select
    table_id,
    release_updated,
    region_code,
    period,
    dimension_key,
    count(distinct coalesce(cast(value as varchar), '') || '/' || coalesce(status, '')) as versions
from (
    select
        table_id,
        release_updated,
        region_code,
        period,
        value,
        status,
        {{ dimension_key() }} as dimension_key
    from {{ source('raw', 'cells') }}
) as cells
group by table_id, release_updated, region_code, period, dimension_key
having count(distinct coalesce(cast(value as varchar), '') || '/' || coalesce(status, '')) > 1
