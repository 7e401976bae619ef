-- Every cell published both unrevised (March) and revised: the newest unrevised publication against the
-- first revised one after it (the June release), with the change and whether a status symbol appeared or
-- vanished. Cells are matched on table, every dimension, region and period.
-- Incremental by table and period (macros/incremental_by_release.sql): a run re-pairs only the table-periods
-- of the releases staged since the last one, over every release of them; a change of the municipality seed
-- rebuilds it whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['table_id', 'period'],
        meta={
            'incremental_source': 'stg_ssb__cells',
            'incremental_inputs': ['stg_reference__municipalities', 'int_regions__names'],
        },
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

-- Not materialized: DuckDB keeps a CTE read more than once in memory; reading the table again is cheaper.
cells as not materialized (
    select * from {{ ref('stg_ssb__cells') }}
    {{ incremental_table_periods(ref('stg_ssb__cells')) }}
),

municipality_codes as (
    select * from {{ ref('stg_reference__municipalities') }}
),

names as (
    select * from {{ ref('int_regions__names') }}
),

unrevised as (
    select * from cells
    where vintage = 'unrevised'
    qualify row_number() over (
        partition by table_id, region_code, period, dimension_key
        order by release_updated desc
    ) = 1
),

revised as (
    select * from cells
    where vintage = 'revised'
),

paired as (
    select
        unrevised.table_id,
        unrevised.contents_code,
        unrevised.region_code,
        unrevised.period,
        unrevised.year,
        unrevised.funksjon,
        unrevised.art,
        unrevised.regnskapsomfang,
        unrevised.alder,
        unrevised.kjonn,
        unrevised.other_dimensions,
        unrevised.dimension_key,
        unrevised.value as unrevised_value,
        unrevised.status as unrevised_status,
        unrevised.release_updated as unrevised_release_updated,
        revised.value as revised_value,
        revised.status as revised_status,
        revised.release_updated as revised_release_updated
    from unrevised
    asof inner join revised
        on
            unrevised.table_id = revised.table_id
            and unrevised.region_code = revised.region_code
            and unrevised.period = revised.period
            and unrevised.dimension_key = revised.dimension_key
            and unrevised.release_updated < revised.release_updated
)

select
    paired.table_id,
    paired.contents_code,
    paired.region_code,
    municipality_codes.municipality_id,
    names.municipality_name,
    paired.period,
    paired.year,
    paired.funksjon,
    paired.art,
    paired.regnskapsomfang,
    paired.alder,
    paired.kjonn,
    paired.other_dimensions,
    paired.dimension_key,
    paired.unrevised_value,
    paired.unrevised_status,
    paired.unrevised_release_updated,
    paired.revised_value,
    paired.revised_status,
    paired.revised_release_updated,
    paired.revised_value - paired.unrevised_value as change_abs,
    100 * (paired.revised_value - paired.unrevised_value) / nullif(abs(paired.unrevised_value), 0) as change_pct,
    (paired.unrevised_value is distinct from paired.revised_value) as is_value_changed,
    (paired.unrevised_status is null and paired.revised_status is not null) as status_appeared,
    (paired.unrevised_status is not null and paired.revised_status is null) as status_vanished,
    (paired.unrevised_status is distinct from paired.revised_status) as is_status_changed,
    -- The marts always use the newest release (indicator_values); say so where that hides a number or
    -- fills a gap.
    'revised' as vintage_used,
    case
        when paired.unrevised_status is null and paired.revised_status is not null
            then
                'the revised release shows ''' || paired.revised_status || ''' where the unrevised one had '
                || paired.unrevised_value || '; the marts use the revised release (newest wins)'
        when paired.unrevised_status is not null and paired.revised_status is null
            then
                'the revised release has a number where the unrevised one showed '''
                || paired.unrevised_status || '''; the marts use the revised release (newest wins)'
    end as value_note
from paired
left join municipality_codes
    on
        paired.region_code = municipality_codes.municipality_code
        and paired.year between coalesce(municipality_codes.valid_from_year, 0)
        and coalesce(municipality_codes.valid_to_year, 9999)
left join names on municipality_codes.municipality_id = names.municipality_id
