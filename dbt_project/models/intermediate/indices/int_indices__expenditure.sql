-- Need-adjusted expenditure per municipality, index sector and year, before indexing: net operating
-- expenditure of the sector's functions (12367, catalogue row named in seed sector_functions) in kroner per
-- need-adjusted inhabitant of the target group, where need-adjusted inhabitants = target group × the
-- sector's cost index (seed cost_keys, national average 1.00). A missing input leaves the figure NULL and
-- names the input in missing_reason.
with

sectors as (
    select * from {{ ref('sector_functions') }}
),

cost_keys as (
    select * from {{ ref('cost_keys') }}
),

municipal_values as (
    select * from {{ ref('indicator_values') }}
    where region_kind = 'municipality'
),

municipality_years as (
    select distinct
        municipality_id,
        year
    from municipal_values
),

joined as (
    select
        municipality_years.municipality_id,
        sectors.sector,
        municipality_years.year,
        sectors.expenditure_indicator_id,
        sectors.target_population_indicator_id,
        expenditure.value as net_expenditure,
        expenditure.vintage as expenditure_vintage,
        expenditure.release_updated as expenditure_release_updated,
        population.value as target_population,
        population.vintage as population_vintage,
        population.release_updated as population_release_updated,
        cost_keys.cost_index,
        cost_keys.source as cost_key_source
    from municipality_years
    cross join sectors
    left join municipal_values as expenditure
        on
            municipality_years.municipality_id = expenditure.municipality_id
            and municipality_years.year = expenditure.year
            and sectors.expenditure_indicator_id = expenditure.indicator_id
    left join municipal_values as population
        on
            municipality_years.municipality_id = population.municipality_id
            and municipality_years.year = population.year
            and sectors.target_population_indicator_id = population.indicator_id
    left join cost_keys
        on
            municipality_years.municipality_id = cost_keys.municipality_id
            and sectors.sector = cost_keys.sector
            and municipality_years.year = cost_keys.year
)

select
    municipality_id,
    sector,
    year,
    expenditure_indicator_id,
    target_population_indicator_id,
    net_expenditure,
    target_population,
    cost_index,
    cost_key_source,
    target_population * cost_index as need_adjusted_population,
    -- net_expenditure is in 1000 kr.
    case
        when target_population > 0 and cost_index > 0
            then 1000 * net_expenditure / (target_population * cost_index)
    end as expenditure_per_need_adjusted_inhabitant,
    case
        when expenditure_vintage = 'unrevised' or population_vintage = 'unrevised' then 'unrevised'
        when expenditure_vintage is not null or population_vintage is not null then 'revised'
    end as vintage,
    greatest(expenditure_release_updated, population_release_updated) as inputs_release_updated,
    nullif(concat_ws(
        '; ',
        case when net_expenditure is null then expenditure_indicator_id || ' missing' end,
        case when target_population is null then target_population_indicator_id || ' missing' end,
        case when target_population = 0 then target_population_indicator_id || ' is 0' end,
        case when cost_index is null then 'cost key missing' end,
        case when cost_index <= 0 then 'cost key not positive' end
    ), '') as missing_reason
from joined
