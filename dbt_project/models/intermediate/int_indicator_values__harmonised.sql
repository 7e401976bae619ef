-- Indicator values on today's municipality borders, one row per indicator, municipality_id, year and
-- release. A code counts for the years it was valid (SSB shows '.' outside them). When one current
-- municipality had several codes in a year (a merger), they are combined honestly: counts (kind 'base') are
-- summed, ratios with a numerator and denominator are recomputed from the sums. A published rate or share
-- cannot be combined: it takes the value of the principal code (the one that carried the municipality's own
-- name, e.g. 0602 Drammen for Drammen 2019), which is the municipality as it was then and what the network
-- compared that year, flagged comparable_across_break = false. Without a principal code the value is NULL.
-- A code whose values are not on its series' borders (seed region_successors: a code that was split, such
-- as Ålesund 1507 in 2024, or one SSB's 2024 grouping keeps out as "Delte kommuner", such as Narvik 1805)
-- is never silently mapped onto one successor: its rows keep their value but are a break
-- (comparable_across_break = false, the reason first in harmonisation_note).
-- border_basis names the territory a value describes: 'current' for today's borders, else the codes used,
-- so a trend compares two years only on the same territory.
-- Aggregate regions (EAK, EAKUO, EKGnn) pass through with municipality_id = region_code.
-- Incremental by year (macros/incremental_by_release.sql): a run rebuilds only the data years of the
-- values by code built since the last one, from every release of those years; a change of the reference
-- data it reads rebuilds it whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['year'],
        meta={
            'incremental_source': 'int_indicator_values__by_code',
            'incremental_inputs': ['stg_reference__indicator_catalogue', 'stg_reference__municipalities', 'stg_reference__aggregate_regions', 'stg_reference__region_successors', 'stg_reference__kostra_groupings'],
        },
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

-- Not materialized: DuckDB keeps a CTE read more than once in memory; reading the table again is cheaper.
values_by_code as not materialized (
    select * from {{ ref('int_indicator_values__by_code') }}
    where {{ incremental_years() }}
),

catalogue as (
    select
        indicator_id,
        kind,
        is_ratio,
        coalesce(scale, 1.0) as scale
    from {{ ref('stg_reference__indicator_catalogue') }}
),

municipality_codes as (
    select
        municipality_code,
        municipality_id,
        municipality_name,
        coalesce(valid_from_year, 0) as valid_from_year,
        coalesce(valid_to_year, 9999) as valid_to_year
    from {{ ref('stg_reference__municipalities') }}
),

off_border_codes as (
    select
        region_code as municipality_code,
        string_agg(distinct coalesce(change_note, change_kind), '; ') as split_note,
        string_agg(successor_code, ', ' order by successor_code) as successor_codes,
        min(change_year) as change_year
    from {{ ref('stg_reference__region_successors') }}
    where region_kind = 'municipality' and not is_on_series_borders
    group by region_code
),

-- The code that carried the current municipality's name before a merger (Sami double names compare on
-- their first part: 'Trondheim - Tråante').
principal_codes as (
    select codes.municipality_code
    from municipality_codes as codes
    inner join municipality_codes as current_code
        on codes.municipality_id = current_code.municipality_code
    where
        codes.municipality_code = codes.municipality_id
        or lower(split_part(codes.municipality_name, ' - ', 1))
        = lower(split_part(current_code.municipality_name, ' - ', 1))
),

aggregate_regions as (
    select * from {{ ref('stg_reference__aggregate_regions') }}
),

-- Rows of codes valid in their year.
valid_code_rows as (
    select
        values_by_code.*,
        municipality_codes.municipality_id,
        false as is_current_borders_backcast,
        principal_codes.municipality_code is not null as is_principal_code,
        case
            when off_border_codes.municipality_code is not null
                then
                    values_by_code.region_code || ' (to ' || off_border_codes.change_year || ' → '
                    || off_border_codes.successor_codes || '): ' || off_border_codes.split_note
        end as split_note,
        off_border_codes.municipality_code is not null as is_off_borders
    from values_by_code
    inner join municipality_codes
        on
            values_by_code.region_code = municipality_codes.municipality_code
            and values_by_code.year between municipality_codes.valid_from_year and municipality_codes.valid_to_year
    left join principal_codes on values_by_code.region_code = principal_codes.municipality_code
    left join off_border_codes on values_by_code.region_code = off_border_codes.municipality_code
),

-- Some tables publish today's code for years before it existed, already on today's borders. Such a value
-- is used only where no code valid that year was published in the same release.
backcast_rows as (
    select
        values_by_code.*,
        municipality_codes.municipality_id,
        true as is_current_borders_backcast,
        true as is_principal_code,
        cast(null as varchar) as split_note,
        false as is_off_borders
    from values_by_code
    inner join municipality_codes
        on
            values_by_code.region_code = municipality_codes.municipality_code
            and values_by_code.region_code = municipality_codes.municipality_id
            and values_by_code.year < municipality_codes.valid_from_year
    where values_by_code.value is not null
),

-- Not materialized: read three times below (merged_groups, merged_rows, single_rows), and cheaper to
-- compute again.
municipal_rows as not materialized (
    select * from valid_code_rows
    union all
    select backcast_rows.*
    from backcast_rows
    anti join valid_code_rows
        on
            backcast_rows.indicator_id = valid_code_rows.indicator_id
            and backcast_rows.municipality_id = valid_code_rows.municipality_id
            and backcast_rows.year = valid_code_rows.year
            and backcast_rows.release_updated = valid_code_rows.release_updated
),

codes_expected as (
    select
        municipality_codes.municipality_id,
        years.year,
        count(*) as codes_expected
    from (select distinct year from values_by_code) as years
    inner join municipality_codes
        on years.year between municipality_codes.valid_from_year and municipality_codes.valid_to_year
    group by municipality_codes.municipality_id, years.year
),

-- A municipality with more than one code in a year (a merger): its rows are combined in a fixed order (the
-- sums add in the order of the codes, so a rebuild gives the same digits). Every other group is one row,
-- passed on as it is: ordered aggregates keep every row of every group until the end, and over all rows they
-- were most of this model's time and memory (whole demo: 3.3 s and 2.2 GB, against 0.8 s and 0.5 GB).
merged_groups as (
    select
        indicator_id,
        municipality_id,
        year,
        release_updated
    from municipal_rows
    group by indicator_id, municipality_id, year, release_updated
    having count(*) > 1
),

merged_rows as (
    select municipal_rows.*
    from municipal_rows
    semi join merged_groups
        on
            municipal_rows.indicator_id = merged_groups.indicator_id
            and municipal_rows.municipality_id = merged_groups.municipality_id
            and municipal_rows.year = merged_groups.year
            and municipal_rows.release_updated = merged_groups.release_updated
),

single_rows as (
    select municipal_rows.*
    from municipal_rows
    anti join merged_groups
        on
            municipal_rows.indicator_id = merged_groups.indicator_id
            and municipal_rows.municipality_id = merged_groups.municipality_id
            and municipal_rows.year = merged_groups.year
            and municipal_rows.release_updated = merged_groups.release_updated
),

merged as (
    select
        indicator_id,
        municipality_id,
        year,
        release_updated,
        string_agg(region_code, '+' order by region_code) as region_code,
        count(*) as codes_found,
        bool_or(is_current_borders_backcast) as is_current_borders_backcast,
        case when bool_or(vintage = 'unrevised') then 'unrevised' else 'revised' end as vintage,
        min(table_id) as table_id,
        min(contents_code) as contents_code,
        min(value_source) as value_source,
        any_value(value) as single_value,
        any_value(value) filter (where is_principal_code) as principal_value,
        any_value(region_code) filter (where is_principal_code) as principal_code,
        any_value(numerator_value) as single_numerator_value,
        any_value(denominator_value) as single_denominator_value,
        {{ stable_sum('value', 'region_code') }} as value_sum,
        bool_and(value is not null) as all_values_present,
        {{ stable_sum('numerator_value', 'region_code') }} as numerator_sum,
        {{ stable_sum('denominator_value', 'region_code') }} as denominator_sum,
        bool_and(numerator_value is not null and denominator_value is not null) as all_components_present,
        string_agg(split_note, '; ' order by region_code) as split_note,
        bool_or(is_off_borders) as is_off_borders,
        nullif(array_to_string(list_sort(list_distinct(list(status))), ' '), '') as status,
        nullif(array_to_string(list_sort(list_distinct(list(value_note))), '; '), '') as value_note,
        nullif(array_to_string(list_sort(list_distinct(list(series_break))), '; '), '') as series_break
    from merged_rows
    group by indicator_id, municipality_id, year, release_updated
),

-- The one row of a group as the aggregates above would give it.
single as (
    select
        indicator_id,
        municipality_id,
        year,
        release_updated,
        region_code,
        1 as codes_found,
        is_current_borders_backcast,
        case when vintage = 'unrevised' then 'unrevised' else 'revised' end as vintage,
        table_id,
        contents_code,
        value_source,
        value as single_value,
        case when is_principal_code then value end as principal_value,
        case when is_principal_code then region_code end as principal_code,
        numerator_value as single_numerator_value,
        denominator_value as single_denominator_value,
        value as value_sum,
        value is not null as all_values_present,
        numerator_value as numerator_sum,
        denominator_value as denominator_sum,
        numerator_value is not null and denominator_value is not null as all_components_present,
        split_note,
        is_off_borders,
        nullif(status, '') as status,
        nullif(value_note, '') as value_note,
        nullif(series_break, '') as series_break
    from single_rows
),

grouped as (
    select * from merged
    union all by name
    select * from single
),

classified as (
    select
        grouped.*,
        catalogue.kind,
        catalogue.is_ratio,
        catalogue.scale,
        coalesce(codes_expected.codes_expected, 1) as codes_expected,
        case
            when grouped.is_current_borders_backcast then 'single'
            when grouped.codes_found = 1 and coalesce(codes_expected.codes_expected, 1) = 1 then 'single'
            when grouped.codes_found < coalesce(codes_expected.codes_expected, 1)
                then
                    case
                        when catalogue.kind != 'base' and grouped.principal_value is not null
                            then 'principal_code'
                        else 'codes_missing'
                    end
            when catalogue.is_ratio and grouped.all_components_present then 'ratio_of_sums'
            when catalogue.kind = 'base' and grouped.all_values_present then 'sum'
            when catalogue.kind = 'base' then 'values_missing'
            when grouped.principal_value is not null then 'principal_code'
            when catalogue.is_ratio then 'components_missing'
            else 'not_combinable'
        end as harmonisation
    from grouped
    inner join catalogue on grouped.indicator_id = catalogue.indicator_id
    left join codes_expected
        on
            grouped.municipality_id = codes_expected.municipality_id
            and grouped.year = codes_expected.year
),

municipal as (
    select
        indicator_id,
        municipality_id,
        region_code,
        'municipality' as region_kind,
        year,
        vintage,
        release_updated,
        case harmonisation
            when 'single' then single_value
            when 'ratio_of_sums' then scale * numerator_sum / nullif(denominator_sum, 0)
            when 'sum' then value_sum
            when 'principal_code' then principal_value
        end as value,
        status,
        table_id,
        contents_code,
        case harmonisation
            when 'single' then single_numerator_value
            when 'ratio_of_sums' then numerator_sum
        end as numerator_value,
        case harmonisation
            when 'single' then single_denominator_value
            when 'ratio_of_sums' then denominator_sum
        end as denominator_value,
        case harmonisation
            when 'ratio_of_sums' then 'recomputed'
            when 'sum' then 'summed'
            else value_source
        end as value_source,
        codes_found as region_code_count,
        codes_found > 1 as is_harmonised,
        not is_off_borders and harmonisation in ('single', 'ratio_of_sums', 'sum') as comparable_across_break,
        case
            when not is_off_borders and harmonisation in ('single', 'ratio_of_sums', 'sum') then 'current'
            when harmonisation = 'principal_code' then principal_code
            else region_code
        end as border_basis,
        nullif(concat(
            case
                when is_off_borders
                    then 'split: not on ' || municipality_id || '''s borders; ' || split_note || '. '
            end,
            case harmonisation
                when 'single'
                    then case when is_current_borders_backcast then 'published by SSB for today''s borders' end
                when 'ratio_of_sums' then 'merged codes: ratio recomputed from summed numerators and denominators'
                when 'sum' then 'merged codes: values summed'
                when 'codes_missing'
                    then 'merged codes: only ' || codes_found || ' of ' || codes_expected || ' codes published'
                when 'components_missing' then 'merged codes: numerator or denominator missing for a code'
                when 'values_missing' then 'merged codes: a code has no value'
                when 'principal_code'
                    then
                        'merged codes: the published ' || kind || ' of ' || principal_code
                        || ' (the municipality as it was then); not comparable across the break'
                when 'not_combinable'
                    then
                        'merged codes: a published ' || kind
                        || ' figure without numerator and denominator cannot be combined'
            end
        ), '') as harmonisation_note,
        value_note,
        series_break,
        {{ incremental_built_at() }} as built_at
    from classified
),

aggregates as (
    select
        values_by_code.indicator_id,
        values_by_code.region_code as municipality_id,
        values_by_code.region_code,
        aggregate_regions.region_kind,
        values_by_code.year,
        values_by_code.vintage,
        values_by_code.release_updated,
        values_by_code.value,
        values_by_code.status,
        values_by_code.table_id,
        values_by_code.contents_code,
        values_by_code.numerator_value,
        values_by_code.denominator_value,
        values_by_code.value_source,
        1 as region_code_count,
        false as is_harmonised,
        true as comparable_across_break,
        -- A KOSTRA group code means another group in each grouping (EKG13: large municipalities up to 2019,
        -- Oslo alone from 2020), so its territory is the grouping; other aggregates are their own code.
        case
            when aggregate_regions.region_kind = 'kostra_group'
                then 'kostra_grouping:' || groupings.kostra_grouping
            else values_by_code.region_code
        end as border_basis,
        cast(null as varchar) as harmonisation_note,
        values_by_code.value_note,
        values_by_code.series_break,
        {{ incremental_built_at() }} as built_at
    from values_by_code
    inner join aggregate_regions on values_by_code.region_code = aggregate_regions.region_code
    left join {{ ref('stg_reference__kostra_groupings') }} as groupings
        on values_by_code.year between groupings.first_year and coalesce(groupings.last_year, 9999)
)

select * from municipal
union all
select * from aggregates
