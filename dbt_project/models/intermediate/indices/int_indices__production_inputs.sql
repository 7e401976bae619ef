-- Every production indicator (seed production_weights, version var production_weights_version) per
-- municipality, index sector and year, measured the way it enters the production index: a volume per 1000
-- need-adjusted inhabitants of the sector's target group, a quality indicator as its value. A missing input
-- leaves measured_value NULL and names the input in missing_reason.
with

weights as (
    select * from {{ ref('production_weights') }}
    where weights_version = '{{ var("production_weights_version", "v2") }}'
),

catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

expenditure as (
    select * from {{ ref('int_indices__expenditure') }}
),

municipal_values as (
    select * from {{ ref('indicator_values') }}
    where region_kind = 'municipality'
),

members as (
    select * from {{ ref('int_comparison_group__members') }}
    where role = 'member'
),

joined as (
    select
        expenditure.municipality_id,
        expenditure.sector,
        expenditure.year,
        weights.weights_version,
        weights.indicator_id,
        catalogue.label_nb,
        catalogue.unit,
        coalesce(catalogue.polarity, 'neutral') as polarity,
        weights.measure,
        cast(weights.weight as double) as weight,
        weights.weight_basis,
        weights.source as weight_source,
        indicator.value as raw_value,
        indicator.vintage,
        indicator.release_updated,
        expenditure.target_population,
        expenditure.cost_index,
        expenditure.need_adjusted_population,
        expenditure.target_population_indicator_id,
        members.municipality_id is not null as is_asss_member
    from expenditure
    inner join weights on expenditure.sector = weights.sector
    left join catalogue on weights.indicator_id = catalogue.indicator_id
    left join municipal_values as indicator
        on
            expenditure.municipality_id = indicator.municipality_id
            and expenditure.year = indicator.year
            and weights.indicator_id = indicator.indicator_id
    left join members
        on
            expenditure.municipality_id = members.municipality_id
            and expenditure.year = members.year
)

select
    municipality_id,
    sector,
    year,
    weights_version,
    indicator_id,
    label_nb,
    unit,
    polarity,
    measure,
    weight,
    weight_basis,
    weight_source,
    raw_value,
    need_adjusted_population,
    case
        when measure = 'value' then raw_value
        when measure = 'volume' and need_adjusted_population > 0 then 1000 * raw_value / need_adjusted_population
    end as measured_value,
    vintage,
    release_updated,
    is_asss_member,
    case
        when raw_value is null then indicator_id || ' missing'
        when measure = 'volume' and target_population is null then target_population_indicator_id || ' missing'
        when measure = 'volume' and cost_index is null then 'cost key missing'
        when measure = 'volume' and not need_adjusted_population > 0 then 'need-adjusted population not positive'
    end as missing_reason
from joined
