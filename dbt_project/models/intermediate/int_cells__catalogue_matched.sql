-- Cells matched to the published rows of the indicator catalogue, one row per indicator, region, year and
-- release. A catalogue row serves its own data years only (a table replaced by another hands the indicator
-- on). Where the catalogue lists several functions or ages, and where a dimension is not filtered at all
-- (07459's Kjonn), the cells are summed; the sum is NULL when a function or age is missing or carries a
-- status other than '-' (SSB's "zero"), because a partial sum would be a wrong number that looks right.
-- Incremental by release (macros/incremental_by_release.sql): a run matches only the releases staged since
-- the last one; a change of the catalogue rebuilds it whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['table_id', 'release_updated'],
        meta={
            'incremental_source': 'stg_ssb__cells',
            'incremental_inputs': ['stg_reference__indicator_sources'],
        },
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

catalogue as (
    select * from {{ ref('stg_reference__indicator_sources') }}
    where is_published
),

-- One row per cell a catalogue row selects, so cells join on equality (a hash join, not a scan per row).
-- Every row of a table filters the same dimensions (pipeline.catalogue validates it), so '' stands for "this
-- table has no such dimension" on both sides.
catalogue_cells as (
    select
        catalogue.*,
        coalesce(funksjon_code.code, '') as funksjon_key,
        coalesce(alder_code.code, '') as alder_key
    from catalogue
    cross join unnest(coalesce(catalogue.funksjon_codes, [null])) as funksjon_code (code)
    cross join unnest(coalesce(catalogue.alder_codes, [null])) as alder_code (code)
),

cells as (
    select * from {{ ref('stg_ssb__cells') }}
    {% if is_incremental() %}
        -- A release staged again is staged whole, so its every cell carries the new built_at.
        where built_at > {{ incremental_watermark() }}
    {% endif %}
),

matched as (
    select
        catalogue.indicator_id,
        catalogue.funksjon_codes,
        catalogue.alder_codes,
        catalogue.series_break,
        catalogue.first_year as source_first_year,
        cells.table_id,
        cells.contents_code,
        cells.region_code,
        cells.year,
        cells.vintage,
        cells.release_updated,
        cells.funksjon,
        cells.alder,
        cells.status,
        -- '-' is SSB's symbol for an exact zero.
        case when cells.value is null and cells.status = '-' then 0 else cells.value end as value
    from cells
    inner join catalogue_cells as catalogue
        on
            cells.table_id = catalogue.table_id
            and cells.contents_code = catalogue.contents_code
            and coalesce(cells.funksjon, '') = catalogue.funksjon_key
            and coalesce(cells.art, '') = coalesce(catalogue.art, '')
            and coalesce(cells.alder, '') = catalogue.alder_key
            and coalesce(cells.regnskapsomfang, '') = coalesce(catalogue.regnskapsomfang, '')
    where cells.year between coalesce(catalogue.first_year, 0) and coalesce(catalogue.last_year, 9999)
),

summed as (
    select
        indicator_id,
        table_id,
        contents_code,
        region_code,
        year,
        vintage,
        release_updated,
        count(*) as cells_matched,
        count(distinct funksjon) as functions_found,
        max(len(funksjon_codes)) as functions_expected,
        count(distinct alder) as ages_found,
        max(len(alder_codes)) as ages_expected,
        -- A definition break applies in the first year of the source that introduced it.
        max(case when year = source_first_year then series_break end) as series_break,
        bool_and(value is not null) as all_cells_have_values,
        {{ stable_sum('value', 'funksjon, alder') }} as value_sum,
        list_sort(list_distinct(list(status) filter (where status != '-'))) as other_statuses,
        count(*) filter (where status = '-') as zero_cells
    from matched
    group by indicator_id, table_id, contents_code, region_code, year, vintage, release_updated
)

select
    indicator_id,
    table_id,
    contents_code,
    region_code,
    year,
    vintage,
    release_updated,
    cells_matched,
    functions_found,
    functions_expected,
    case
        when not all_cells_have_values then null
        when functions_expected is not null and functions_found < functions_expected then null
        when ages_expected is not null and ages_found < ages_expected then null
        else value_sum
    end as value,
    case
        when len(other_statuses) > 0 then array_to_string(other_statuses, ' ')
        when zero_cells = cells_matched then '-'
    end as status,
    case
        when functions_expected is not null and functions_found < functions_expected
            then
                'incomplete function sum: ' || functions_found || ' of '
                || functions_expected || ' functions published'
        when ages_expected is not null and ages_found < ages_expected
            then 'incomplete age sum: ' || ages_found || ' of ' || ages_expected || ' ages published'
    end as value_note,
    series_break,
    {{ incremental_built_at() }} as built_at
from summed
