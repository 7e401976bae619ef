-- Every data-quality finding of the build, for the network's review and the report.
select
    run_id,
    check_name as "check",
    severity,
    sector,
    table_id,
    contents_code,
    indicator_id,
    region_code,
    municipality_id,
    year,
    vintage,
    observed,
    expected_range,
    message,
    cells
from {{ ref('stg_quality__findings') }}
order by
    case severity when 'FATAL' then 0 when 'ERROR' then 1 when 'WARNING' then 2 else 3 end,
    "check", table_id, region_code, year, contents_code, indicator_id, message
