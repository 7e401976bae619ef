-- Who was in the comparison group (var comparison_group) each year, with today's names: the members whose
-- values the group's mean, min and max (service_profile, asss_aggregates) and the indices' reference means
-- (sector_indices) are taken over, and for the similar group each one's rank and distance.
with

members as (
    select * from {{ ref('int_comparison_group__members') }}
),

names as (
    select
        municipality_id,
        arg_max(municipality_name, valid_from_year) as municipality_name
    from {{ ref('stg_reference__municipalities') }}
    where municipality_code = municipality_id
    group by municipality_id
)

select
    members.comparison_group,
    members.year,
    members.municipality_id,
    names.municipality_name,
    members.role,
    members.similarity_rank,
    members.distance
from members
left join names on members.municipality_id = names.municipality_id
