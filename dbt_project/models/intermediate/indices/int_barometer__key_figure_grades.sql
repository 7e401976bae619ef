-- Grade 1–6 per municipality, key figure (seed barometer_key_figures) and year, Kommunebarometeret style:
-- m = the average that grades 3.5, chosen by parameter average_reference (seed barometer_parameters):
-- national_figure (default) = SSB's national figure (region EAK) where it publishes one for the key figure
-- and year, else the unweighted mean over the municipalities with a value (average_source says which);
-- municipal_mean = always that mean. Anchors lo / hi = the low / high percentiles of the municipalities'
-- values (P5 / P95). Oriented so that better is higher: for higher_better g = 3.5 + 2.5 · (x − m) / (hi − m)
-- above m and 3.5 − 2.5 · (m − x) / (m − lo) below; for lower_better g = 3.5 + 2.5 · (m − x) / (m − lo)
-- below m and 3.5 − 2.5 · (x − m) / (hi − m) above. Clipped to [1, 6]; x = m gives 3.5.
-- A key figure published too coarsely to grade (its anchors fewer than min_anchor_steps publication steps
-- apart, e.g. whole children per man-year) is flagged instead of graded: grade NULL, is_too_coarse true
-- (issue 12, finding 6). docs/methodology.md, "Kommunebarometer".
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
        max(case when parameter = 'high_anchor_percentile' then cast(value as double) end) as high_percentile,
        coalesce(
            max(case when parameter = 'average_reference' then trim(cast(value as varchar)) end), 'national_figure'
        ) as average_reference,
        max(case when parameter = 'min_anchor_steps' then cast(value as double) end) as min_anchor_steps
    from {{ ref('barometer_parameters') }}
),

municipal_values as (
    select * from {{ ref('indicator_values') }}
    where region_kind = 'municipality'
),

-- SSB's national figure (region EAK) of an indicator key figure, where published.
national_values as (
    select
        indicator_id,
        year,
        value as national_value
    from {{ ref('indicator_values') }}
    where municipality_id = 'EAK' and value is not null
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
        key_figures.indicator_id,
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
        cast(null as varchar) as indicator_id,
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
        any_value(indicator_id) as indicator_id,
        {{ stable_avg('value', 'municipality_id') }} as municipal_mean,
        list_sort(list(value) filter (where value is not null)) as sorted_values,
        count(value) as municipalities_with_value,
        count(distinct value) as distinct_values,
        -- The publication step: the coarsest of 1, 0.1, 0.01 that every value is a multiple of.
        case
            when bool_and(abs(value - round(value, 0)) < 1e-9) filter (where value is not null) then 1.0
            when bool_and(abs(value - round(value, 1)) < 1e-9) filter (where value is not null) then 0.1
            when bool_and(abs(value - round(value, 2)) < 1e-9) filter (where value is not null) then 0.01
        end as publication_step
    from figures
    group by key_figure_id, year
),

-- quantile_cont needs a constant fraction, so the percentile (linear interpolation between closest ranks,
-- as quantile_cont) is computed from the sorted values with the fraction from the parameters seed.
positions as (
    select
        value_lists.*,
        national_values.national_value,
        case
            when parameters.average_reference = 'national_figure' and national_values.national_value is not null
                then national_values.national_value
            else value_lists.municipal_mean
        end as national_mean,
        case
            when parameters.average_reference = 'national_figure' and national_values.national_value is not null
                then 'national_figure'
            else 'municipal_mean'
        end as average_source,
        parameters.low_percentile * (value_lists.municipalities_with_value - 1) as low_position,
        parameters.high_percentile * (value_lists.municipalities_with_value - 1) as high_position
    from value_lists
    cross join parameters
    left join national_values
        on
            value_lists.indicator_id = national_values.indicator_id
            and value_lists.year = national_values.year
    where value_lists.municipalities_with_value > 0
),

distribution as (
    select
        key_figure_id,
        year,
        national_mean,
        average_source,
        national_value,
        municipal_mean,
        municipalities_with_value,
        distinct_values,
        publication_step,
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

-- Too coarse to grade: the anchors lie fewer than min_anchor_steps publication steps apart, so a single
-- step moves a municipality to 1 or 6. All values equal is not coarseness: everyone is the average (3.5).
resolution as (
    select
        distribution.*,
        distribution.distinct_values > 1
        and (distribution.anchor_high - distribution.anchor_low) / distribution.publication_step
        < parameters.min_anchor_steps as is_too_coarse
    from distribution
    cross join parameters
),

graded as (
    select
        figures.*,
        distribution.national_mean,
        distribution.average_source,
        distribution.national_value,
        distribution.anchor_low,
        distribution.anchor_high,
        distribution.municipalities_with_value,
        distribution.publication_step,
        coalesce(distribution.is_too_coarse, false) as is_too_coarse,
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
        end as signed_distance,
        -- Where the national figure itself lands on the scale (3.5 when it is the average that grades 3.5).
        case
            when distribution.national_value is null then null
            when distribution.national_value = distribution.national_mean then 0.0
            when distribution.national_value > distribution.national_mean
                then
                    (distribution.national_value - distribution.national_mean)
                    / nullif(distribution.anchor_high - distribution.national_mean, 0)
            else
                -(distribution.national_mean - distribution.national_value)
                / nullif(distribution.national_mean - distribution.anchor_low, 0)
        end as national_signed_distance
    from figures
    left join resolution as distribution
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
    average_source,
    national_value,
    anchor_low,
    anchor_high,
    municipalities_with_value,
    publication_step,
    is_too_coarse,
    -- least/greatest skip NULLs, so a missing value must be kept NULL explicitly.
    case when signed_distance is not null and not is_too_coarse then {{ barometer_grade('signed_distance') }} end
        as grade,
    case when national_signed_distance is not null then {{ barometer_grade('national_signed_distance') }} end
        as national_value_grade,
    case when polarity = 'lower_better' then -value else value end as oriented_value
from graded
