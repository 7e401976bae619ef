-- Why two municipalities are alike, variable by variable: for every pair of similar_municipalities, each
-- structural variable's value on both sides, its standardised difference and its part of the distance.
-- squared_distance_part = w_v * (z_i - z_j)^2 / sum_v w_v, so the contributions of a pair add up to distance^2;
-- squared_distance_share is that part of distance^2 (NULL when the two are identical).
with

nearest as (
    select * from {{ ref('int_similarity__nearest') }}
),

structural_values as (
    select * from {{ ref('int_similarity__structural_values') }}
),

variables as (
    select * from {{ ref('similarity_variables') }}
),

pair_values as (
    select
        nearest.municipality_id,
        nearest.year,
        nearest.similar_municipality_id,
        nearest.similarity_rank,
        nearest.distance,
        focus.variable_id,
        focus.variables_version,
        focus.weight,
        focus.value,
        other.value as similar_value,
        focus.z_value,
        other.z_value as similar_z_value,
        focus.weight * (focus.z_value - other.z_value) ^ 2
        / sum(focus.weight) over (
            partition by nearest.municipality_id, nearest.year, nearest.similar_municipality_id
        ) as squared_distance_part
    from nearest
    inner join structural_values as focus
        on
            nearest.municipality_id = focus.municipality_id
            and nearest.year = focus.year
    inner join structural_values as other
        on
            nearest.similar_municipality_id = other.municipality_id
            and nearest.year = other.year
            and focus.variable_id = other.variable_id
)

select
    pair_values.municipality_id,
    pair_values.year,
    pair_values.similar_municipality_id,
    pair_values.similarity_rank,
    pair_values.variable_id,
    variables.label_nb,
    pair_values.variables_version,
    pair_values.weight,
    pair_values.value,
    pair_values.similar_value,
    pair_values.z_value,
    pair_values.similar_z_value,
    pair_values.squared_distance_part,
    pair_values.squared_distance_part / nullif(pair_values.distance ^ 2, 0) as squared_distance_share
from pair_values
inner join variables
    on
        pair_values.variables_version = variables.variables_version
        and pair_values.variable_id = variables.variable_id
