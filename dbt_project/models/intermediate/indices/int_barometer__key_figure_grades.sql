-- Grade 1–6 per municipality, key figure (seed barometer_key_figures) and year, Kommunebarometeret style:
-- m = the unweighted mean over all municipalities with a value (graded 3.5, the national average),
-- anchors lo / hi = the low / high percentiles (seed barometer_parameters, P5 / P95). Oriented so that
-- better is higher: for higher_better g = 3.5 + 2.5 · (x − m) / (hi − m) above the mean and
-- 3.5 − 2.5 · (m − x) / (m − lo) below; for lower_better g = 3.5 + 2.5 · (m − x) / (m − lo) below the mean
-- and 3.5 − 2.5 · (x − m) / (hi − m) above. Clipped to [1, 6]; x = m gives 3.5.
with

key_figures as (
    select * from {{ ref('barometer_key_figures') }}
),

parameters as (
    select
        max(case when parameter = 'average_grade' then cast(value as double) end) as average_grade,
        max(case when parameter = 'min_grade' then cast(value as double) end) as min_grade,
        max(case when parameter = 'max_grade' then cast(value as double) end) as max_grade,
        max(case when parameter = 'low_anchor_percentile' then cast(value as double) end) as low_percentile,
        max(case when parameter = 'high_anchor_percentile' then cast(value as double) end) as high_percentile
    from {{ ref('barometer_parameters') }}
),

municipal_values as (
    select * from {{ ref('indicator_values') }}
    where region_kind = 'municipality'
),

sector_indices as (
    select * from {{ ref('sector_indices') }}
),

municipality_years as (
    select distinct
        municipality_id,
        year
    from municipal_values
),

indicator_figures as (
    select
        key_figures.barometer_sector,
        key_figures.key_figure_id,
        key_figures.source_kind,
        key_figures.polarity,
        cast(key_figures.weight as double) as weight,
        municipality_years.municipality_id,
        municipality_years.year,
        municipal_values.label_nb,
        municipal_values.value,
        municipal_values.vintage
    from key_figures
    cross join municipality_years
    left join municipal_values
        on
            key_figures.indicator_id = municipal_values.indicator_id
            and municipality_years.municipality_id = municipal_values.municipality_id
            and municipality_years.year = municipal_values.year
    where key_figures.source_kind = 'indicator'
),

index_figures as (
    select
        key_figures.barometer_sector,
        key_figures.key_figure_id,
        key_figures.source_kind,
        key_figures.polarity,
        cast(key_figures.weight as double) as weight,
        sector_indices.municipality_id,
        sector_indices.year,
        case key_figures.source_kind
            when 'expenditure_index' then 'Behovsjustert utgiftsindeks (U), '
            when 'production_index' then 'Produksjonsindeks (P), '
            when 'efficiency_index' then 'Effektivitetsindeks (E), '
        end || key_figures.index_sector as label_nb,
        case key_figures.source_kind
            when 'expenditure_index' then sector_indices.expenditure_index
            when 'production_index' then sector_indices.production_index
            when 'efficiency_index' then sector_indices.efficiency_index
        end as value,
        sector_indices.vintage
    from key_figures
    inner join sector_indices on key_figures.index_sector = sector_indices.sector
    where key_figures.source_kind != 'indicator'
),

figures as (
    select * from indicator_figures
    union all
    select * from index_figures
),

value_lists as (
    select
        key_figure_id,
        year,
        {{ stable_avg('value', 'municipality_id') }} as national_mean,
        list_sort(list(value) filter (where value is not null)) as sorted_values,
        count(value) as municipalities_with_value
    from figures
    group by key_figure_id, year
),

-- quantile_cont needs a constant fraction, so the percentile (linear interpolation between closest ranks,
-- as quantile_cont) is computed from the sorted values with the fraction from the parameters seed.
positions as (
    select
        value_lists.*,
        parameters.low_percentile * (value_lists.municipalities_with_value - 1) as low_position,
        parameters.high_percentile * (value_lists.municipalities_with_value - 1) as high_position
    from value_lists
    cross join parameters
    where value_lists.municipalities_with_value > 0
),

distribution as (
    select
        key_figure_id,
        year,
        national_mean,
        municipalities_with_value,
        sorted_values[1 + cast(floor(low_position) as bigint)]
        + (low_position - floor(low_position))
        * (
            sorted_values[1 + cast(ceil(low_position) as bigint)]
            - sorted_values[1 + cast(floor(low_position) as bigint)]
        ) as anchor_low,
        sorted_values[1 + cast(floor(high_position) as bigint)]
        + (high_position - floor(high_position))
        * (
            sorted_values[1 + cast(ceil(high_position) as bigint)]
            - sorted_values[1 + cast(floor(high_position) as bigint)]
        ) as anchor_high
    from positions
),

graded as (
    select
        figures.*,
        distribution.national_mean,
        distribution.anchor_low,
        distribution.anchor_high,
        distribution.municipalities_with_value,
        parameters.average_grade,
        parameters.min_grade,
        parameters.max_grade,
        -- Distance from the mean in half-ranges: +1 at the favourable anchor, −1 at the unfavourable one.
        case
            when figures.value is null then null
            when figures.value = distribution.national_mean then 0.0
            when figures.value > distribution.national_mean
                then
                    (figures.value - distribution.national_mean)
                    / nullif(distribution.anchor_high - distribution.national_mean, 0)
            else
                -(distribution.national_mean - figures.value)
                / nullif(distribution.national_mean - distribution.anchor_low, 0)
        end as signed_distance
    from figures
    left join distribution
        on
            figures.key_figure_id = distribution.key_figure_id
            and figures.year = distribution.year
    cross join parameters
)

select
    municipality_id,
    year,
    barometer_sector,
    key_figure_id,
    source_kind,
    label_nb,
    polarity,
    weight,
    value,
    vintage,
    national_mean,
    anchor_low,
    anchor_high,
    municipalities_with_value,
    -- least/greatest skip NULLs, so a missing value must be kept NULL explicitly.
    case when signed_distance is not null then least(
        max_grade,
        greatest(
            min_grade,
            average_grade
            + (max_grade - average_grade)
            * case when polarity = 'lower_better' then -signed_distance else signed_distance end
        )
    ) end as grade,
    case when polarity = 'lower_better' then -value else value end as oriented_value
from graded
