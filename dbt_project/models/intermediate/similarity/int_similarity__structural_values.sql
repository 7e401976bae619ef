-- The structural variables of the similarity group per municipality and year (seed similarity_variables, the
-- version named in seed similarity_parameters), from marts.indicator_values on today's borders: the log of a
-- count, a share (numerator / denominator) or a level. Standardised over the municipalities that have every
-- weighted variable that year: z = (x - mean) / standard deviation, both unweighted over municipalities and
-- summed in a fixed order. A value not on today's borders (a merged municipality's published rate before the
-- merger, a split code) keeps its place but says so: is_on_current_borders false, with the reason.
with

parameters as (
    select * from {{ ref('similarity_parameters') }}
),

variables as (
    select similarity_variables.*
    from {{ ref('similarity_variables') }} as similarity_variables
    inner join parameters
        on
            parameters.parameter = 'variables_version'
            and similarity_variables.variables_version = parameters.value
    where similarity_variables.weight > 0
),

indicator_values as (
    select * from {{ ref('indicator_values') }}
    where region_kind = 'municipality'
),

raw_values as (
    select
        numerator.municipality_id,
        numerator.year,
        variables.variables_version,
        variables.variable_id,
        variables.weight,
        case variables.transform
            when 'log' then case when numerator.value > 0 then ln(numerator.value) end
            when 'share' then numerator.value / nullif(denominator.value, 0)
            else numerator.value
        end as value,
        numerator.value as numerator_value,
        denominator.value as denominator_value,
        numerator.comparable_across_break
        and coalesce(denominator.comparable_across_break, true) as is_on_current_borders,
        coalesce(numerator.harmonisation_note, denominator.harmonisation_note) as harmonisation_note
    from variables
    inner join indicator_values as numerator on variables.numerator_id = numerator.indicator_id
    left join indicator_values as denominator
        on
            variables.denominator_id = denominator.indicator_id
            and numerator.municipality_id = denominator.municipality_id
            and numerator.year = denominator.year
),

-- Only municipalities with every variable that year take part (in the standardisation and as neighbours).
complete_units as (
    select
        municipality_id,
        year
    from raw_values
    group by municipality_id, year
    having count(value) = (select count(*) from variables)
),

unit_values as (
    select raw_values.*
    from raw_values
    inner join complete_units
        on
            raw_values.municipality_id = complete_units.municipality_id
            and raw_values.year = complete_units.year
),

moments as (
    select
        year,
        variable_id,
        {{ stable_avg('value', 'municipality_id') }} as mean_value,
        count(*) as municipality_count
    from unit_values
    group by year, variable_id
),

spread as (
    select
        unit_values.year,
        unit_values.variable_id,
        sqrt({{ stable_avg('(unit_values.value - moments.mean_value) ^ 2', 'unit_values.municipality_id') }})
            as sd_value
    from unit_values
    inner join moments
        on
            unit_values.year = moments.year
            and unit_values.variable_id = moments.variable_id
    group by unit_values.year, unit_values.variable_id
)

select
    unit_values.municipality_id,
    unit_values.year,
    unit_values.variables_version,
    unit_values.variable_id,
    unit_values.weight,
    unit_values.value,
    unit_values.numerator_value,
    unit_values.denominator_value,
    moments.mean_value,
    spread.sd_value,
    moments.municipality_count,
    -- A variable every municipality shares separates no one: z 0. "Shares" allows for the last bits of a
    -- mean of equal doubles (a spread below 1e-9 of the mean), which would otherwise turn rounding into z = ±1.
    coalesce(
        (unit_values.value - moments.mean_value)
        / case when spread.sd_value > 1e-9 * abs(moments.mean_value) then spread.sd_value end,
        0
    ) as z_value,
    coalesce(unit_values.is_on_current_borders, false) as is_on_current_borders,
    unit_values.harmonisation_note
from unit_values
inner join moments
    on
        unit_values.year = moments.year
        and unit_values.variable_id = moments.variable_id
inner join spread
    on
        unit_values.year = spread.year
        and unit_values.variable_id = spread.variable_id
