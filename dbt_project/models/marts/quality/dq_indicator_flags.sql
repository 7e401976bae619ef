-- One quality flag per municipality, indicator and year that has a finding of severity WARNING or worse.
-- INFO findings flag nothing; a value with no row here is 'ok'.
with

findings as (
    select * from {{ ref('dq_findings') }}
    where severity in ('FATAL', 'ERROR', 'WARNING') and municipality_id is not null
),

sources as (
    select * from {{ ref('stg_reference__indicator_sources') }}
),

indicators as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

-- A finding on one indicator (IPLOS measures, denominators) flags that indicator.
on_indicator as (
    select
        municipality_id,
        year,
        indicator_id,
        severity,
        "check"
    from findings
    where indicator_id is not null
),

-- A finding on a cell flags the catalogue rows read from that cell in that year (each IPLOS age group has
-- its own contents code in 12292); a finding on a whole table (no contents code) flags every row of the
-- table serving that year. Accounts (12367) findings flag the sector's expenditure indicators instead.
on_cell as (
    select
        findings.municipality_id,
        findings.year,
        sources.indicator_id,
        findings.severity,
        findings."check"
    from findings
    inner join sources
        on
            findings.table_id = sources.table_id
            and (findings.contents_code is null or findings.contents_code = sources.contents_code)
            and (
                findings.year is null
                or findings.year between coalesce(sources.first_year, 0) and coalesce(sources.last_year, 9999)
            )
    where findings.indicator_id is null and findings.table_id <> '12367'
),

on_accounts as (
    select
        findings.municipality_id,
        findings.year,
        indicators.indicator_id,
        findings.severity,
        findings."check"
    from findings
    inner join indicators
        on indicators.kind = 'expenditure' and starts_with(indicators.sector, findings.sector)
    where findings.indicator_id is null and findings.table_id = '12367'
),

direct as (
    select * from on_indicator
    union all
    select * from on_cell
    union all
    select * from on_accounts
),

-- A ratio inherits the flags of its numerator and denominator.
inherited as (
    select
        direct.municipality_id,
        direct.year,
        indicators.indicator_id,
        direct.severity,
        direct."check"
    from direct
    inner join indicators on direct.indicator_id in (indicators.numerator_id, indicators.denominator_id)
),

flagged as (
    select * from direct
    union all
    select * from inherited
),

flags as (
    select
        municipality_id,
        year,
        indicator_id,
        case max(case severity when 'FATAL' then 3 when 'ERROR' then 2 else 1 end)
            when 1 then 'use_with_care' else 'unreliable'
        end as quality_flag,
        list(distinct "check" order by "check") as checks
    from flagged
    group by municipality_id, year, indicator_id
),

names as (
    select * from {{ ref('int_regions__names') }}
)

-- The name beside the id; every other column as above (the exclude only keeps municipality_id from repeating).
select
    flags.municipality_id,
    names.municipality_name,
    flags.* exclude (flags.municipality_id)  -- noqa: AM04
from flags
left join names on flags.municipality_id = names.municipality_id
