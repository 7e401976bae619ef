-- Every data-quality finding of the build, worst first, for the network's review and the report: the
-- Python stage's (source quality.findings) and the rules that are SQL (intermediate/quality), under one run id.
with

python_findings as (
    select * from {{ ref('stg_quality__findings') }}
),

sql_findings as (
    select * from {{ ref('int_quality__accounts') }}
    union all by name
    select * from {{ ref('int_quality__denominators') }}
),

run as (
    select coalesce(max(run_id), '{{ invocation_id }}') as run_id from python_findings
),

findings as (
    select
        run_id,
        check_name,
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
    from python_findings
    union all
    select
        run.run_id,
        sql_findings.check_name,
        sql_findings.severity,
        sql_findings.sector,
        sql_findings.table_id,
        sql_findings.contents_code,
        sql_findings.indicator_id,
        sql_findings.region_code,
        sql_findings.municipality_id,
        sql_findings.year,
        sql_findings.vintage,
        sql_findings.observed,
        sql_findings.expected_range,
        sql_findings.message,
        sql_findings.cells
    from sql_findings
    cross join run
),

names as (
    select * from {{ ref('int_regions__names') }}
)

select
    findings.run_id,
    findings.check_name as "check",
    findings.severity,
    findings.sector,
    findings.table_id,
    findings.contents_code,
    findings.indicator_id,
    findings.region_code,
    findings.municipality_id,
    names.municipality_name,
    findings.year,
    findings.vintage,
    findings.observed,
    findings.expected_range,
    findings.message,
    findings.cells
from findings
left join names on findings.municipality_id = names.municipality_id
order by
    case findings.severity when 'FATAL' then 0 when 'ERROR' then 1 when 'WARNING' then 2 else 3 end,
    findings.check_name, findings.table_id, findings.region_code, findings.year, findings.contents_code,
    findings.indicator_id, findings.message
