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
-- Each code also carries its bit in a 127-bit mask (a catalogue row lists at most 127 codes of a dimension,
-- pipeline.reference.catalogue validates it): OR-ing the masks of the cells found and counting the bits
-- counts the distinct codes found, about five times faster than count(distinct) over 1.7 M groups.
catalogue_cells as (
    select
        catalogue.*,
        len(catalogue.funksjon_codes) as functions_expected,
        len(catalogue.alder_codes) as ages_expected,
        coalesce(funksjon_code.code, '') as funksjon_key,
        coalesce(alder_code.code, '') as alder_key,
        coalesce(cast(1 as hugeint) << (list_position(catalogue.funksjon_codes, funksjon_code.code) - 1), 0)
            as funksjon_bit,
        coalesce(cast(1 as hugeint) << (list_position(catalogue.alder_codes, alder_code.code) - 1), 0)
            as alder_bit
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
        catalogue.functions_expected,
        catalogue.ages_expected,
        catalogue.funksjon_bit,
        catalogue.alder_bit,
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
        bit_count(bit_or(funksjon_bit)) as functions_found,
        max(functions_expected) as functions_expected,
        bit_count(bit_or(alder_bit)) as ages_found,
        max(ages_expected) as ages_expected,
        -- A definition break applies in the first year of the source that introduced it.
        max(case when year = source_first_year then series_break end) as series_break,
        bool_and(value is not null) as all_cells_have_values,
        {{ exact_sum('value') }} as value_sum,
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
    ages_found,
    ages_expected,
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
