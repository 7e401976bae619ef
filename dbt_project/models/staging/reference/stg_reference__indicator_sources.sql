-- Every row of the indicator catalogue, typed: one indicator from one SSB table and contents code over a
-- range of data years (NULL = open), with its evidence. An indicator SSB moved to another table (12210 ->
-- 13995) has one row per source; series_break says why its series is not comparable across first_year.
-- Derived rows (status 'derived') are computed in intermediate models and never matched to cells.
with

source as (
    select * from {{ ref('indicator_catalogue') }}
),

typed as (
    select
        trim(cast(indicator_id as varchar)) as indicator_id,
        lpad(nullif(trim(cast(table_id as varchar)), ''), 5, '0') as table_id,
        nullif(trim(cast(contents_code as varchar)), '') as contents_code,
        nullif(replace(cast(funksjon as varchar), ' ', ''), '') as funksjon,
        nullif(trim(cast(art as varchar)), '') as art,
        nullif(replace(cast(alder as varchar), ' ', ''), '') as alder,
        nullif(trim(cast(regnskapsomfang as varchar)), '') as regnskapsomfang,
        cast(nullif(trim(cast(first_year as varchar)), '') as integer) as first_year,
        cast(nullif(trim(cast(last_year as varchar)), '') as integer) as last_year,
        lower(trim(status)) as status,
        source as evidence_source,
        cast(nullif(trim(cast(confirmed_on as varchar)), '') as date) as confirmed_on,
        nullif(trim(series_break), '') as series_break
    from source
)

select
    *,
    {{ catalogue_codes('funksjon') }} as funksjon_codes,
    {{ catalogue_codes('alder') }} as alder_codes,
    status <> 'derived' and table_id is not null and contents_code is not null as is_published
from typed
