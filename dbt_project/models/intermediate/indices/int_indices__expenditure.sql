-- Need-adjusted expenditure per municipality, index sector and year, before indexing: net operating
-- expenditure of the sector's functions (12367, catalogue row named in seed sector_functions) in kroner per
-- need-adjusted inhabitant of the target group, where need-adjusted inhabitants = target group × the
-- sector's cost index (int_indices__cost_keys, national average 1.00, read for cost_key_sector when the
-- sector names one).
-- An age group of pleie og omsorg (hours_indicator_id set) gets the sector's net expenditure times its share
-- of the assigned weekly hours, ASSS's A · (B / (B + C)) / D: A = the sector's net expenditure, B = the
-- group's hours, C = the other group's, D = the group's inhabitants (docs/methodology.md).
-- A key given per inhabitant of the whole population (Grønt hefte, key_basis per_inhabitant) is converted to
-- the target group: cost_index = published index × national target-group share / the municipality's share,
-- the national share being Σ target group / Σ inhabitants over the municipalities with both that year.
-- A missing input leaves the figure NULL and names the input in missing_reason.
with

sectors as (
    select * from {{ ref('sector_functions') }}
),

cost_keys as (
    select * from {{ ref('int_indices__cost_keys') }}
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

inhabitants as (
    select
        municipality_id,
        year,
        value as total_population
    from municipal_values
    where indicator_id = 'pop_total'
),

-- The target group's share of all inhabitants, summed over the municipalities with both, per year.
national_shares as (
    select
        sectors.sector,
        target_group.year,
        {{ stable_sum('target_group.value', 'target_group.municipality_id') }}
        / nullif({{ stable_sum('inhabitants.total_population', 'target_group.municipality_id') }}, 0)
            as national_target_share
    from sectors
    inner join municipal_values as target_group on sectors.target_population_indicator_id = target_group.indicator_id
    inner join inhabitants
        on
            target_group.municipality_id = inhabitants.municipality_id
            and target_group.year = inhabitants.year
    where target_group.value is not null and inhabitants.total_population > 0
    group by sectors.sector, target_group.year
),

joined as (
    select
        municipality_years.municipality_id,
        sectors.sector,
        municipality_years.year,
        sectors.expenditure_indicator_id,
        sectors.target_population_indicator_id,
        sectors.hours_indicator_id,
        sectors.other_hours_indicator_id,
        sectors.hours_indicator_id is not null as is_age_split,
        expenditure.value as sector_net_expenditure,
        expenditure.vintage as expenditure_vintage,
        expenditure.release_updated as expenditure_release_updated,
        hours.value as assigned_hours,
        hours.vintage as hours_vintage,
        hours.release_updated as hours_release_updated,
        other_hours.value as other_assigned_hours,
        other_hours.vintage as other_hours_vintage,
        other_hours.release_updated as other_hours_release_updated,
        population.value as target_population,
        population.vintage as population_vintage,
        population.release_updated as population_release_updated,
        inhabitants.total_population,
        national_shares.national_target_share,
        cost_keys.cost_index as published_cost_index,
        cost_keys.key_basis as cost_key_basis,
        cost_keys.gronthefte_year as cost_key_gronthefte_year,
        cost_keys.source as cost_key_source,
        cost_keys.cost_key_is_demo
    from municipality_years
    cross join sectors
    left join municipal_values as expenditure
        on
            municipality_years.municipality_id = expenditure.municipality_id
            and municipality_years.year = expenditure.year
            and sectors.expenditure_indicator_id = expenditure.indicator_id
    left join municipal_values as hours
        on
            municipality_years.municipality_id = hours.municipality_id
            and municipality_years.year = hours.year
            and sectors.hours_indicator_id = hours.indicator_id
    left join municipal_values as other_hours
        on
            municipality_years.municipality_id = other_hours.municipality_id
            and municipality_years.year = other_hours.year
            and sectors.other_hours_indicator_id = other_hours.indicator_id
    left join municipal_values as population
        on
            municipality_years.municipality_id = population.municipality_id
            and municipality_years.year = population.year
            and sectors.target_population_indicator_id = population.indicator_id
    left join inhabitants
        on
            municipality_years.municipality_id = inhabitants.municipality_id
            and municipality_years.year = inhabitants.year
    left join national_shares
        on
            sectors.sector = national_shares.sector
            and municipality_years.year = national_shares.year
    left join cost_keys
        on
            municipality_years.municipality_id = cost_keys.municipality_id
            and coalesce(sectors.cost_key_sector, sectors.sector) = cost_keys.sector
            and municipality_years.year = cost_keys.year
),

computed as (
    select
        *,
        case
            when not is_age_split then 1.0
            else assigned_hours / nullif(assigned_hours + other_assigned_hours, 0)
        end as hours_share,
        case
            when cost_key_basis = 'per_target_group' then published_cost_index
            when cost_key_basis = 'per_inhabitant' and target_population > 0
                then published_cost_index * national_target_share * total_population / target_population
        end as cost_index
    from joined
)

select
    municipality_id,
    sector,
    year,
    expenditure_indicator_id,
    target_population_indicator_id,
    hours_indicator_id,
    other_hours_indicator_id,
    sector_net_expenditure,
    assigned_hours,
    other_assigned_hours,
    hours_share,
    sector_net_expenditure * hours_share as net_expenditure,
    target_population,
    published_cost_index,
    cost_key_basis,
    cost_key_gronthefte_year,
    cost_index,
    cost_key_source,
    cost_key_is_demo,
    target_population * cost_index as need_adjusted_population,
    -- net_expenditure is in 1000 kr.
    case
        when target_population > 0 and cost_index > 0
            then 1000 * sector_net_expenditure * hours_share / (target_population * cost_index)
    end as expenditure_per_need_adjusted_inhabitant,
    case
        when
            expenditure_vintage = 'unrevised' or population_vintage = 'unrevised'
            or hours_vintage = 'unrevised' or other_hours_vintage = 'unrevised'
            then 'unrevised'
        when expenditure_vintage is not null or population_vintage is not null then 'revised'
    end as vintage,
    greatest(
        expenditure_release_updated, population_release_updated, hours_release_updated,
        other_hours_release_updated
    ) as inputs_release_updated,
    nullif(concat_ws(
        '; ',
        case when sector_net_expenditure is null then expenditure_indicator_id || ' missing' end,
        case when is_age_split and assigned_hours is null then hours_indicator_id || ' missing' end,
        case when is_age_split and other_assigned_hours is null then other_hours_indicator_id || ' missing' end,
        case
            when is_age_split and assigned_hours + other_assigned_hours = 0
                then hours_indicator_id || ' + ' || other_hours_indicator_id || ' is 0'
        end,
        case when target_population is null then target_population_indicator_id || ' missing' end,
        case when target_population = 0 then target_population_indicator_id || ' is 0' end,
        case when published_cost_index is null then 'cost key missing' end,
        case when published_cost_index <= 0 then 'cost key not positive' end,
        case
            when
                cost_key_basis = 'per_inhabitant'
                and published_cost_index > 0
                and target_population > 0
                and cost_index is null
                then 'pop_total missing (to convert a per-inhabitant cost key)'
        end
    ), '') as missing_reason
from computed
