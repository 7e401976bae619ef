-- The KOSTRA group of each current municipality in each year. When a current municipality's codes belonged
-- to different groups in a year (before a merger), its group that year is unknown (NULL), not a guess.
with

kostra_groups as (
    select * from {{ ref('stg_reference__kostra_groups') }}
),

municipality_codes as (
    select distinct
        municipality_code,
        municipality_id
    from {{ ref('stg_reference__municipalities') }}
),

by_year as (
    select
        kostra_groups.municipality_code,
        kostra_groups.kostra_group,
        unnest(generate_series(
            kostra_groups.year_from,
            coalesce(kostra_groups.year_to, greatest(kostra_groups.year_from, year(current_date) + 1))
        )) as year
    from kostra_groups
)

select
    coalesce(municipality_codes.municipality_id, by_year.municipality_code) as municipality_id,
    by_year.year,
    case when count(distinct by_year.kostra_group) = 1 then min(by_year.kostra_group) end as kostra_group,
    count(distinct by_year.kostra_group) as kostra_group_count
from by_year
left join municipality_codes on by_year.municipality_code = municipality_codes.municipality_code
group by coalesce(municipality_codes.municipality_id, by_year.municipality_code), by_year.year
