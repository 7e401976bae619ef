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
            'incremental_inputs': ['stg_reference__indicator_catalogue'],
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

newest as (
    select * from harmonised
    qualify row_number() over (
        partition by municipality_id, indicator_id, year
        -- On a tie (two tables released at the same moment) revised beats unrevised.
        order by release_updated desc, vintage = 'revised' desc
    ) = 1
)

select
    newest.municipality_id,
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
    newest.harmonisation_note,
    newest.value_note,
    -- A change of definition at SSB (e.g. recipients -> cases in 2022) starts a new series this year.
    newest.series_break,
    catalogue.evidence_status
from newest
inner join catalogue on newest.indicator_id = catalogue.indicator_id
