-- Typed SSB cells, one row per published cell. A cell landed twice in one release (overlapping fetches of
-- the same release) is the same published cell, so it is kept once.
-- Incremental by release (macros/incremental_by_release.sql): a run stages only the releases with a landed
-- object not staged before, and replaces each such release whole.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['table_id', 'release_updated'],
        meta={'incremental_inputs': []},
        post_hook="{{ incremental_save_state() }}",
    )
}}

with

source as (
    select * from {{ source('raw', 'cells') }}
    {% if is_incremental() %}
        where (table_id, release_updated) in (
            select (table_id, release_updated) from (
                select distinct table_id, release_updated, landing_sha256
                from {{ source('raw', 'cells') }}
                except
                select distinct table_id, release_updated, landing_sha256
                from {{ this }}
            )
        )
    {% endif %}
),

typed as (
    select
        cast(table_id as varchar) as table_id,
        cast(release_updated as timestamp) as release_updated,
        cast(vintage as varchar) as vintage,
        cast(contents_code as varchar) as contents_code,
        cast(region_code as varchar) as region_code,
        cast(period as varchar) as period,
        cast(year as integer) as year,
        nullif(trim(funksjon), '') as funksjon,
        nullif(trim(art), '') as art,
        nullif(trim(regnskapsomfang), '') as regnskapsomfang,
        nullif(trim(alder), '') as alder,
        nullif(trim(kjonn), '') as kjonn,
        other_dimensions,
        -- Every non-region, non-time dimension in one comparable string (map entries sorted by key), so a
        -- cell can be recognised across releases.
        {{ dimension_key() }} as dimension_key,
        cast(value as double) as value,
        nullif(trim(status), '') as status,
        landing_sha256,
        {{ incremental_built_at() }} as built_at
    from source
)

select * from typed
qualify row_number() over (
    partition by table_id, release_updated, region_code, period, dimension_key
    order by landing_sha256
) = 1
