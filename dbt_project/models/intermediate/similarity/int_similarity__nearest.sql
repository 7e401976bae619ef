-- Each municipality's k nearest (seed similarity_parameters) per year among the municipalities with every
-- structural variable that year (int_similarity__structural_values). The distance is the weighted root mean
-- square of the standardised differences,
--     d(i, j) = sqrt( sum_v w_v * (z_iv - z_jv)^2 / sum_v w_v ),
-- 0 for the same structure, 1 for one standard deviation apart on every variable. Equal distances are
-- broken by the neighbour's municipality code (the lower first) and flagged. A municipality across a reform
-- is matched on today's borders (municipality_id); where one of its values is not (a merged
-- municipality's published rate before the merger, a split code) the row says so.
with

parameters as (
    select * from {{ ref('similarity_parameters') }}
),

neighbour_count as (
    select cast(value as integer) as k
    from parameters
    where parameter = 'k'
),

structural_values as (
    select * from {{ ref('int_similarity__structural_values') }}
),

units as (
    select
        municipality_id,
        year,
        any_value(variables_version) as variables_version,
        bool_and(is_on_current_borders) as is_on_current_borders,
        string_agg(
            variable_id || ': ' || coalesce(harmonisation_note, 'not on today''s borders'), '; ' order by variable_id
        ) filter (where not is_on_current_borders) as border_note,
        count(*) over (partition by year) as unit_count
    from structural_values
    group by municipality_id, year
),

-- One vector per municipality and year, each standardised value scaled by the square root of its weight and
-- in variable order, so that the weighted sum of squares above is a euclidean distance between two lists:
-- one row per pair instead of one per pair and variable (about six times faster). Every unit has every
-- variable (int_similarity__structural_values keeps complete units only), so the lists line up.
vectors as (
    select
        municipality_id,
        year,
        list(sqrt(weight) * z_value order by variable_id) as scaled_z,
        list_sum(list(weight order by variable_id)) as weight_sum
    from structural_values
    group by municipality_id, year
),

pairs as (
    select
        focus.municipality_id,
        focus.year,
        other.municipality_id as similar_municipality_id,
        list_distance(focus.scaled_z, other.scaled_z) / sqrt(focus.weight_sum) as distance
    from vectors as focus
    inner join vectors as other
        on
            focus.year = other.year
            and focus.municipality_id != other.municipality_id
),

ranked as (
    select
        pairs.*,
        row_number() over (
            partition by pairs.municipality_id, pairs.year order by pairs.distance, pairs.similar_municipality_id
        ) as similarity_rank,
        count(*) over (partition by pairs.municipality_id, pairs.year, pairs.distance) as equal_distance_count
    from pairs
)

select
    ranked.municipality_id,
    ranked.year,
    ranked.similar_municipality_id,
    ranked.similarity_rank,
    ranked.distance,
    neighbour_count.k,
    focus_unit.variables_version,
    focus_unit.unit_count - 1 as candidate_count,
    ranked.equal_distance_count > 1 as is_tied,
    case
        when ranked.equal_distance_count > 1
            then
                'same distance as ' || (ranked.equal_distance_count - 1)
                || ' other municipality(ies); order by municipality code'
    end as tie_note,
    focus_unit.is_on_current_borders and similar_unit.is_on_current_borders as is_on_current_borders,
    nullif(concat_ws(
        '; ',
        case when not focus_unit.is_on_current_borders then ranked.municipality_id || ' ' || focus_unit.border_note end,
        case
            when not similar_unit.is_on_current_borders
                then ranked.similar_municipality_id || ' ' || similar_unit.border_note
        end
    ), '') as border_note
from ranked
cross join neighbour_count
inner join units as focus_unit
    on
        ranked.municipality_id = focus_unit.municipality_id
        and ranked.year = focus_unit.year
inner join units as similar_unit
    on
        ranked.similar_municipality_id = similar_unit.municipality_id
        and ranked.year = similar_unit.year
where ranked.similarity_rank <= neighbour_count.k
