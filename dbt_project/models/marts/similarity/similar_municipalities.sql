-- The structural similarity group: for every municipality and year its k nearest municipalities
-- (int_similarity__nearest: distance on the standardised variables of seed similarity_variables), with
-- today's names, so an analyst can see and defend the group; the variables' contributions to each distance
-- are in similar_municipality_contributions.
with

nearest as (
    select * from {{ ref('int_similarity__nearest') }}
),

contributions as (
    select * from {{ ref('similar_municipality_contributions') }}
),

names as (
    select
        municipality_id,
        arg_max(municipality_name, valid_from_year) as municipality_name
    from {{ ref('stg_reference__municipalities') }}
    where municipality_code = municipality_id
    group by municipality_id
),

-- The variable with the largest part of the distance; equal parts go to the first variable by id.
largest as (
    select
        municipality_id,
        year,
        similar_municipality_id,
        variable_id as largest_contribution_variable_id,
        squared_distance_share as largest_contribution_share
    from contributions
    where squared_distance_share is not null
    qualify row_number() over (
        partition by municipality_id, year, similar_municipality_id
        order by squared_distance_share desc, variable_id asc
    ) = 1
)

select
    nearest.municipality_id,
    focus_name.municipality_name,
    nearest.year,
    nearest.similarity_rank,
    nearest.similar_municipality_id,
    similar_name.municipality_name as similar_municipality_name,
    nearest.distance,
    largest.largest_contribution_variable_id,
    largest.largest_contribution_share,
    nearest.k,
    nearest.variables_version,
    nearest.candidate_count,
    nearest.is_tied,
    nearest.tie_note,
    nearest.is_on_current_borders,
    nearest.border_note
from nearest
left join names as focus_name on nearest.municipality_id = focus_name.municipality_id
left join names as similar_name on nearest.similar_municipality_id = similar_name.municipality_id
left join largest
    on
        nearest.municipality_id = largest.municipality_id
        and nearest.year = largest.year
        and nearest.similar_municipality_id = largest.similar_municipality_id
