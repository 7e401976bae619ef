{{ config(meta={'dagster': {'ref': {'name': 'service_profile'}}}) }}
-- Every row of a comparison-group member (member or comparator, of the row's year) carries its name, in every
-- mart that has a row per municipality (int_regions__names owns the names). Fails with the rows that lack one.
with

members as (
    select * from {{ ref('int_comparison_group__members') }}
),

named_rows as (
    select
        'indicator_values' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('indicator_values') }}
    union all
    select
        'service_profile' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('service_profile') }}
    union all
    select
        'indicator_trend' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('indicator_trend') }}
    union all
    select
        'sector_indices' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('sector_indices') }}
    union all
    select
        'production_contributions' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('production_contributions') }}
    union all
    select
        'barometer' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('barometer') }}
    union all
    select
        'dq_findings' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('dq_findings') }}
    union all
    select
        'dq_indicator_flags' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('dq_indicator_flags') }}
    union all
    select
        'revisions' as mart,
        municipality_id,
        year,
        municipality_name
    from {{ ref('revisions') }}
)

select
    named_rows.mart,
    named_rows.municipality_id,
    named_rows.year
from named_rows
inner join members
    on
        named_rows.municipality_id = members.municipality_id
        and (named_rows.year = members.year or named_rows.year is null)
where named_rows.municipality_name is null or trim(named_rows.municipality_name) = ''
