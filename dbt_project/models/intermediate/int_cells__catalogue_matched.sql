-- Cells matched to the published rows of the indicator catalogue, one row per indicator, region, year and
-- release. Where the catalogue lists several functions their cells are summed; the sum is NULL when a
-- function is missing or carries a status other than '-' (SSB's "zero"), because a partial sum would be a
-- wrong number that looks right.
with

catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
    where is_published
),

cells as (
    select * from {{ ref('stg_ssb__cells') }}
),

matched as (
    select
        catalogue.indicator_id,
        catalogue.funksjon_codes,
        cells.table_id,
        cells.contents_code,
        cells.region_code,
        cells.year,
        cells.vintage,
        cells.release_updated,
        cells.funksjon,
        cells.status,
        -- '-' is SSB's symbol for an exact zero.
        case when cells.value is null and cells.status = '-' then 0 else cells.value end as value
    from cells
    inner join catalogue
        on
            cells.table_id = catalogue.table_id
            and cells.contents_code = catalogue.contents_code
            and (catalogue.funksjon_codes is null or list_contains(catalogue.funksjon_codes, cells.funksjon))
            and (catalogue.art is null or cells.art = catalogue.art)
            and (catalogue.alder is null or cells.alder = catalogue.alder)
            and (catalogue.regnskapsomfang is null or cells.regnskapsomfang = catalogue.regnskapsomfang)
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
        bool_and(value is not null) as all_cells_have_values,
        sum(value) as value_sum,
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
    end as value_note
from summed
