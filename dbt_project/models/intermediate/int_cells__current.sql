-- The newest publication of every cell: what the statbank shows today (the June figure where a year has
-- one, else the March figure), one row per table, region, period and dimension key. The quality stage reads
-- it as its `cells` (pipeline.quality.workspace), so "the current value of a cell" has one definition.
-- Incremental by table and period (macros/incremental_by_release.sql): a run re-picks only the table-periods
-- of the releases staged since the last one, over every release of them.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['table_id', 'period'],
        meta={'incremental_source': 'stg_ssb__cells', 'incremental_inputs': []},
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

cells as (
    select * from {{ ref('stg_ssb__cells') }}
    {{ incremental_table_periods(ref('stg_ssb__cells')) }}
),

newest as (
    select * from cells
    {{ newest_publication('table_id, region_code, period, dimension_key') }}
)

select
    table_id,
    region_code,
    period,
    year,
    vintage,
    release_updated,
    contents_code,
    funksjon,
    art,
    regnskapsomfang,
    alder,
    kjonn,
    dimension_key,
    value,
    status,
    {{ incremental_built_at() }} as built_at
from newest
