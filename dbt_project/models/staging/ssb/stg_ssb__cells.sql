-- Typed SSB cells, one row per published cell. A cell landed twice in one release (overlapping fetches of
-- the same release) is the same published cell, so it is kept once. Only a release whose cells came from
-- more than one landing object can hold copies (an object is one JSON-stat cube, a cell once; one object
-- alone is one fetch id, loaded once: pipeline.landing.store), and the copy kept is found from the cell's
-- key and row id alone: a window over whole rows held every cell of the build in memory at once.
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

-- Not materialized: DuckDB keeps a CTE read more than once in memory, and this one is every raw cell.
source as not materialized (
    select
        *,
        rowid as cell_rowid
    from {{ source('raw', 'cells') }}
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

several_objects as (
    {{ several_object_releases('source') }}
),

-- One copy of each cell of those releases: the one from the first landing object (copies agree, as
-- assert_no_conflicting_duplicate_cells tests). The key is built from the cells as landed, as the copies are.
kept_copies as (
    select arg_min(source.cell_rowid, source.landing_sha256) as cell_rowid
    from source
    inner join several_objects
        on
            source.table_id = several_objects.table_id
            and source.release_updated = several_objects.release_updated
    group by
        source.table_id, source.release_updated, source.region_code, source.period, {{ dimension_key() }}
),

-- Two selects in a union, not one filter with OR: an anti join and a semi join stream, the OR of the two
-- subqueries held its whole result in memory.
deduplicated as (
    select source.* from source
    where
        not exists (
            select 1 from several_objects
            where
                several_objects.table_id = source.table_id
                and several_objects.release_updated = source.release_updated
        )
    union all
    select source.* from source
    where source.cell_rowid in (select kept_copies.cell_rowid from kept_copies)
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
    from deduplicated
)

select * from typed
