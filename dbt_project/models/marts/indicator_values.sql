-- The best value of every indicator per municipality (or aggregate region) and year: the one from the
-- newest release, with the vintage it came from.
-- Incremental by year (macros/incremental_by_release.sql): a run rebuilds only the data years of the
-- harmonised values built since the last one, from every release of those years; a change of the reference
-- data it reads rebuilds it whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['year'],
        meta={
            'incremental_source': 'int_indicator_values__harmonised',
            'incremental_inputs': ['stg_reference__indicator_catalogue', 'int_regions__names'],
        },
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

harmonised as (
    select * from {{ ref('int_indicator_values__harmonised') }}
    where {{ incremental_years() }}
),

catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

names as (
    select * from {{ ref('int_regions__names') }}
),

-- Each release's value beside the one it replaced (the release before it), so the row can say when the
-- newest release turned a number into a status symbol or the reverse.
ranked as (
    select
        harmonised.*,
        lead(harmonised.value) over by_release as replaced_value,
        lead(harmonised.status) over by_release as replaced_status,
        lead(harmonised.vintage) over by_release as replaced_vintage,
        lead(harmonised.release_updated) over by_release as replaced_release_updated,
        row_number() over by_release as release_rank
    from harmonised
    window by_release as (
        partition by harmonised.municipality_id, harmonised.indicator_id, harmonised.year
        -- On a tie (two tables released at the same moment) revised beats unrevised.
        order by harmonised.release_updated desc, harmonised.vintage = 'revised' desc
    )
),

newest as (
    select
        ranked.* exclude (value_note),
        nullif(concat_ws(
            '; ',
            ranked.value_note,
            case
                when ranked.value is null and ranked.status is not null and ranked.replaced_value is not null
                    then
                        'vintage: the ' || ranked.vintage || ' release of '
                        || strftime(ranked.release_updated, '%Y-%m-%d') || ' shows ''' || ranked.status
                        || ''' where the ' || ranked.replaced_vintage || ' release of '
                        || strftime(ranked.replaced_release_updated, '%Y-%m-%d') || ' had '
                        || ranked.replaced_value || '; the newest release wins'
                when
                    ranked.value is not null and ranked.replaced_value is null
                    and ranked.replaced_status is not null
                    then
                        'vintage: the ' || ranked.vintage || ' release of '
                        || strftime(ranked.release_updated, '%Y-%m-%d') || ' has a number where the '
                        || ranked.replaced_vintage || ' release of '
                        || strftime(ranked.replaced_release_updated, '%Y-%m-%d') || ' showed '''
                        || ranked.replaced_status || '''; the newest release wins'
            end
        ), '') as value_note
    from ranked
    where ranked.release_rank = 1
)

select
    newest.municipality_id,
    names.municipality_name,
    newest.region_code,
    newest.region_kind,
    newest.year,
    newest.vintage,
    newest.indicator_id,
    catalogue.sector,
    catalogue.label_nb,
    catalogue.unit,
    catalogue.polarity,
    catalogue.kind,
    newest.table_id,
    newest.contents_code,
    newest.value,
    newest.status,
    newest.numerator_value,
    newest.denominator_value,
    newest.value_source,
    newest.release_updated,
    newest.region_code_count,
    newest.is_harmonised,
    newest.comparable_across_break,
    newest.border_basis,
    newest.harmonisation_note,
    newest.value_note,
    -- A change of definition at SSB (e.g. recipients -> cases in 2022) starts a new series this year.
    newest.series_break,
    catalogue.evidence_status
from newest
inner join catalogue on newest.indicator_id = catalogue.indicator_id
left join names on newest.municipality_id = names.municipality_id
