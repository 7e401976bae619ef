{{ config(meta={'dagster': {'ref': {'name': 'sector_functions'}}}) }}
-- Each index sector's expenditure row in the catalogue sums exactly the sector's functions, as net
-- operating expenditure (art AGD2) from the detailed accounts (12367).
with

sectors as (
    select
        cast(sector as varchar) as sector,
        cast(funksjoner as varchar) as funksjoner,
        cast(expenditure_indicator_id as varchar) as expenditure_indicator_id
    from {{ ref('sector_functions') }}
),

catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
)

select
    sectors.sector,
    sectors.funksjoner,
    catalogue.funksjon,
    catalogue.art,
    catalogue.table_id
from sectors
left join catalogue on sectors.expenditure_indicator_id = catalogue.indicator_id
where
    catalogue.indicator_id is null
    or list_sort(catalogue.funksjon_codes)
    is distinct from list_sort(list_distinct(string_split(replace(sectors.funksjoner, ' ', ''), ';')))
    or catalogue.art is distinct from 'AGD2'
    or catalogue.table_id is distinct from '12367'
