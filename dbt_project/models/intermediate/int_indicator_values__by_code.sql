-- Indicator values per published region code, year and release, with the numerator and denominator of
-- ratio indicators. Components are joined "as of" the ratio's release: each side takes its newest release
-- up to that moment, because numerator and denominator often come from different tables released at
-- different times. A published ratio keeps SSB's value; an unpublished one is computed as
-- scale * numerator / denominator at every moment either component was released.
-- Incremental by year (macros/incremental_by_release.sql): a run rebuilds only the data years of the
-- matched cells built since the last one, from every release of those years; a change of the reference
-- data it reads rebuilds it whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['year'],
        meta={
            'incremental_source': 'int_cells__catalogue_matched',
            'incremental_inputs': ['stg_reference__indicator_catalogue'],
        },
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

-- Not materialized: DuckDB keeps a CTE read more than once in memory; reading the table again is cheaper.
published as not materialized (
    select
        indicator_id,
        region_code,
        year,
        vintage,
        release_updated,
        value,
        status,
        table_id,
        contents_code,
        value_note,
        series_break
    from {{ ref('int_cells__catalogue_matched') }}
    where {{ incremental_years() }}
),

ratio_definitions as (
    select
        indicator_id,
        numerator_id,
        denominator_id,
        is_published,
        coalesce(scale, 1.0) as scale
    from catalogue
    where is_ratio
),

plain_values as (
    select published.*
    from published
    anti join ratio_definitions on published.indicator_id = ratio_definitions.indicator_id
),

published_ratio_points as (
    select
        ratio_definitions.indicator_id,
        ratio_definitions.numerator_id,
        ratio_definitions.denominator_id,
        ratio_definitions.scale,
        ratio_definitions.is_published,
        published.region_code,
        published.year,
        published.release_updated,
        published.vintage,
        published.value,
        published.status,
        published.table_id,
        published.contents_code,
        published.value_note,
        published.series_break
    from ratio_definitions
    inner join published on ratio_definitions.indicator_id = published.indicator_id
    where ratio_definitions.is_published
),

computed_ratio_points as (
    select distinct
        ratio_definitions.indicator_id,
        ratio_definitions.numerator_id,
        ratio_definitions.denominator_id,
        ratio_definitions.scale,
        ratio_definitions.is_published,
        published.region_code,
        published.year,
        published.release_updated,
        cast(null as varchar) as vintage,
        cast(null as double) as value,
        cast(null as varchar) as status,
        cast(null as varchar) as table_id,
        cast(null as varchar) as contents_code,
        cast(null as varchar) as value_note,
        cast(null as varchar) as series_break
    from ratio_definitions
    inner join published
        on published.indicator_id in (ratio_definitions.numerator_id, ratio_definitions.denominator_id)
    where not ratio_definitions.is_published
),

ratio_points as (
    select * from published_ratio_points
    union all
    select * from computed_ratio_points
),

-- The releases of the indicators that are some ratio's numerator, or denominator: the right sides of the
-- as-of joins below. An as-of join sorts its whole right side, and most published rows are neither (whole
-- demo: the model's peak 1.2 GB and 2.4 s against all of them, 0.7 GB and 1.5 s so).
numerator_releases as not materialized (
    select published.*
    from published
    semi join ratio_definitions on published.indicator_id = ratio_definitions.numerator_id
),

denominator_releases as not materialized (
    select published.*
    from published
    semi join ratio_definitions on published.indicator_id = ratio_definitions.denominator_id
),

with_numerator as (
    select
        ratio_points.*,
        numerators.value as numerator_value,
        numerators.status as numerator_status,
        numerators.vintage as numerator_vintage,
        numerators.release_updated as numerator_release_updated,
        numerators.table_id as numerator_table_id,
        numerators.contents_code as numerator_contents_code,
        numerators.value_note as numerator_note,
        numerators.series_break as numerator_break
    from ratio_points
    asof left join numerator_releases as numerators
        on
            ratio_points.numerator_id = numerators.indicator_id
            and ratio_points.region_code = numerators.region_code
            and ratio_points.year = numerators.year
            and ratio_points.release_updated >= numerators.release_updated
),

with_both as (
    select
        with_numerator.*,
        denominators.value as denominator_value,
        denominators.status as denominator_status,
        denominators.vintage as denominator_vintage,
        denominators.release_updated as denominator_release_updated,
        denominators.value_note as denominator_note,
        denominators.series_break as denominator_break
    from with_numerator
    asof left join denominator_releases as denominators
        on
            with_numerator.denominator_id = denominators.indicator_id
            and with_numerator.region_code = denominators.region_code
            and with_numerator.year = denominators.year
            and with_numerator.release_updated >= denominators.release_updated
),

ratio_values as (
    select
        indicator_id,
        region_code,
        year,
        case
            when is_published then vintage
            when numerator_vintage = 'unrevised' or denominator_vintage = 'unrevised' then 'unrevised'
            else 'revised'
        end as vintage,
        release_updated,
        case
            when is_published then value
            else scale * numerator_value / nullif(denominator_value, 0)
        end as value,
        case
            when is_published then status
            else coalesce(numerator_status, denominator_status)
        end as status,
        coalesce(table_id, numerator_table_id) as table_id,
        coalesce(contents_code, numerator_contents_code) as contents_code,
        numerator_value,
        denominator_value,
        case when is_published then 'published' else 'computed' end as value_source,
        case
            when is_published then value_note
            else nullif(concat_ws('; ', numerator_note, denominator_note), '')
        end as value_note,
        case
            when is_published then series_break
            else nullif(concat_ws('; ', numerator_break, denominator_break), '')
        end as series_break
    from with_both
    -- An unpublished ratio exists only where both components have been released.
    where is_published or (numerator_release_updated is not null and denominator_release_updated is not null)
)

select
    indicator_id,
    region_code,
    year,
    vintage,
    release_updated,
    value,
    status,
    table_id,
    contents_code,
    cast(null as double) as numerator_value,
    cast(null as double) as denominator_value,
    'published' as value_source,
    value_note,
    series_break,
    {{ incremental_built_at() }} as built_at
from plain_values

union all

select
    indicator_id,
    region_code,
    year,
    vintage,
    release_updated,
    value,
    status,
    table_id,
    contents_code,
    numerator_value,
    denominator_value,
    value_source,
    value_note,
    series_break,
    {{ incremental_built_at() }} as built_at
from ratio_values

union all

select
    indicator_id,
    region_code,
    year,
    vintage,
    release_updated,
    value,
    status,
    table_id,
    contents_code,
    numerator_value,
    denominator_value,
    value_source,
    value_note,
    series_break,
    {{ incremental_built_at() }} as built_at
from {{ ref('int_indicator_values__care_by_age') }}
where {{ incremental_years() }}
