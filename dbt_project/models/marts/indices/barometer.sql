-- Kommunebarometer-style grading in one long table with three levels per municipality and year:
-- key_figure (grade 1–6 from int_barometer__key_figure_grades), sector (the weighted mean of the key-figure
-- grades with data, weights renormalised over them, only when at least min_key_figure_share of the
-- sector's key figures have data) and overall (the weighted mean of the sector grades with seed
-- barometer_sectors' weights, renormalised over the graded sectors, only when they cover at least
-- min_overall_weight_share of the weight). rank: 1 = best among the municipalities graded at that level
-- (key figures by value in the favourable direction, sectors and overall by grade); ranked_count = how many.
with

grades as (
    select * from {{ ref('int_barometer__key_figure_grades') }}
),

sectors as (
    select * from {{ ref('barometer_sectors') }}
),

parameters as (
    select
        max(case when parameter = 'min_key_figure_share' then cast(value as double) end) as min_key_figure_share,
        max(case when parameter = 'min_overall_weight_share' then cast(value as double) end)
            as min_overall_weight_share
    from {{ ref('barometer_parameters') }}
),

sector_grades as (
    select
        grades.municipality_id,
        grades.year,
        grades.barometer_sector,
        count(*) as key_figures_total,
        count(grades.grade) as key_figures_with_data,
        count(grades.grade) / count(*) as data_share,
        {{ stable_sum('grades.weight * grades.grade', 'grades.key_figure_id') }}
        / nullif({{ stable_sum('grades.weight', 'grades.key_figure_id') }} filter (where grades.grade is not null), 0)
            as weighted_grade,
        case when bool_or(grades.vintage = 'unrevised') then 'unrevised' else 'revised' end as vintage
    from grades
    group by grades.municipality_id, grades.year, grades.barometer_sector
),

sector_level as (
    select
        sector_grades.*,
        sectors.label_nb,
        cast(sectors.weight as double) as weight,
        sector_grades.data_share >= parameters.min_key_figure_share as is_graded,
        case
            when sector_grades.data_share < parameters.min_key_figure_share
                then
                    'data for ' || sector_grades.key_figures_with_data || ' of ' || sector_grades.key_figures_total
                    || ' key figures, below ' || round(100 * parameters.min_key_figure_share) || ' %'
        end as not_graded_reason
    from sector_grades
    inner join sectors on sector_grades.barometer_sector = sectors.barometer_sector
    cross join parameters
),

municipality_years as (
    select distinct
        municipality_id,
        year
    from grades
),

overall_inputs as (
    select
        municipality_years.municipality_id,
        municipality_years.year,
        sectors.barometer_sector,
        cast(sectors.weight as double) as weight,
        case when sector_level.is_graded then sector_level.weighted_grade end as grade,
        sector_level.vintage
    from municipality_years
    cross join sectors
    left join sector_level
        on
            municipality_years.municipality_id = sector_level.municipality_id
            and municipality_years.year = sector_level.year
            and sectors.barometer_sector = sector_level.barometer_sector
),

overall_level as (
    select
        overall_inputs.municipality_id,
        overall_inputs.year,
        count(*) as sectors_total,
        count(overall_inputs.grade) as sectors_graded,
        coalesce({{ stable_sum('overall_inputs.weight', 'overall_inputs.barometer_sector') }} filter (
            where overall_inputs.grade is not null
        ), 0)
        / {{ stable_sum('overall_inputs.weight', 'overall_inputs.barometer_sector') }} as weight_share,
        {{ stable_sum('overall_inputs.weight * overall_inputs.grade', 'overall_inputs.barometer_sector') }}
        / nullif({{ stable_sum('overall_inputs.weight', 'overall_inputs.barometer_sector') }} filter (
            where overall_inputs.grade is not null
        ), 0) as weighted_grade,
        case when bool_or(overall_inputs.vintage = 'unrevised') then 'unrevised' else 'revised' end as vintage,
        any_value(parameters.min_overall_weight_share) as min_overall_weight_share
    from overall_inputs
    cross join parameters
    group by overall_inputs.municipality_id, overall_inputs.year
),

all_levels as (
    select
        municipality_id,
        year,
        'key_figure' as grade_level,
        barometer_sector,
        key_figure_id,
        label_nb,
        polarity,
        weight,
        value,
        national_mean,
        average_source,
        national_value,
        national_value_grade,
        anchor_low,
        anchor_high,
        is_too_coarse,
        grade,
        grade is not null as is_graded,
        case
            when value is null then 'no value'
            when is_too_coarse
                then
                    'published with too little precision to grade: P5 and P95 are '
                    || round((anchor_high - anchor_low) / publication_step, 1) || ' steps of '
                    || publication_step || ' apart'
            when grade is null then 'anchors equal the mean'
        end as not_graded_reason,
        cast(null as integer) as items_with_data,
        cast(null as integer) as items_total,
        cast(null as double) as data_share,
        vintage,
        oriented_value as rank_value
    from grades

    union all

    select
        municipality_id,
        year,
        'sector' as grade_level,
        barometer_sector,
        cast(null as varchar) as key_figure_id,
        label_nb,
        cast(null as varchar) as polarity,
        weight,
        cast(null as double) as value,
        cast(null as double) as national_mean,
        cast(null as varchar) as average_source,
        cast(null as double) as national_value,
        cast(null as double) as national_value_grade,
        cast(null as double) as anchor_low,
        cast(null as double) as anchor_high,
        cast(null as boolean) as is_too_coarse,
        case when is_graded then weighted_grade end as grade,
        is_graded,
        not_graded_reason,
        key_figures_with_data as items_with_data,
        key_figures_total as items_total,
        data_share,
        vintage,
        case when is_graded then weighted_grade end as rank_value
    from sector_level

    union all

    select
        municipality_id,
        year,
        'overall' as grade_level,
        cast(null as varchar) as barometer_sector,
        cast(null as varchar) as key_figure_id,
        'Totalt' as label_nb,
        cast(null as varchar) as polarity,
        1.0 as weight,
        cast(null as double) as value,
        cast(null as double) as national_mean,
        cast(null as varchar) as average_source,
        cast(null as double) as national_value,
        cast(null as double) as national_value_grade,
        cast(null as double) as anchor_low,
        cast(null as double) as anchor_high,
        cast(null as boolean) as is_too_coarse,
        case when weight_share >= min_overall_weight_share then weighted_grade end as grade,
        weight_share >= min_overall_weight_share and weighted_grade is not null as is_graded,
        case
            when not weight_share >= min_overall_weight_share
                then
                    'graded sectors cover ' || round(100 * weight_share, 1) || ' % of the weight, below '
                    || round(100 * min_overall_weight_share) || ' %'
        end as not_graded_reason,
        sectors_graded as items_with_data,
        sectors_total as items_total,
        weight_share as data_share,
        vintage,
        case when weight_share >= min_overall_weight_share then weighted_grade end as rank_value
    from overall_level
),

graded as (
    select
        municipality_id,
        year,
        grade_level,
        barometer_sector,
        key_figure_id,
        label_nb,
        polarity,
        weight,
        value,
        national_mean,
        average_source,
        national_value,
        national_value_grade,
        anchor_low,
        anchor_high,
        is_too_coarse,
        grade,
        is_graded,
        not_graded_reason,
        items_with_data,
        items_total,
        data_share,
        vintage,
        case
            -- Ranked on the grade rounded to 1e-9: sums of weights in another order differ in the last bits, and
            -- a near-tie must not move a municipality from one build of the same inputs to the next. Equal
            -- grades share a rank.
            when is_graded
                then rank() over (
                    partition by year, grade_level, barometer_sector, key_figure_id, is_graded
                    order by round(rank_value, 9) desc
                )
        end as rank,
        count(*) filter (where is_graded) over (partition by year, grade_level, barometer_sector, key_figure_id)
            as ranked_count,
        municipality_id = '{{ focus_municipality() }}' as is_focus
    from all_levels
),

names as (
    select * from {{ ref('int_regions__names') }}
)

-- The name beside the id; every other column as above (the exclude only keeps municipality_id from repeating).
select
    graded.municipality_id,
    names.municipality_name,
    graded.* exclude (graded.municipality_id)  -- noqa: AM04
from graded
left join names on graded.municipality_id = names.municipality_id
