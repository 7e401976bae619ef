{{ config(meta={'dagster': {'ref': {'name': 'barometer'}}}) }}
-- Every grade lies on the 1–6 scale (up to float rounding of a weighted mean), and a sector is graded only
-- with data for the required share of its key figures (seed barometer_parameters, min_key_figure_share).
with

parameters as (
    select cast(value as double) as min_key_figure_share
    from {{ ref('barometer_parameters') }}
    where parameter = 'min_key_figure_share'
)

select
    barometer.municipality_id,
    barometer.year,
    barometer.grade_level,
    barometer.barometer_sector,
    barometer.key_figure_id,
    barometer.grade,
    barometer.rank,
    barometer.ranked_count
from {{ ref('barometer') }} as barometer
cross join parameters
where
    barometer.grade < 1 - 1e-9
    or barometer.grade > 6 + 1e-9
    or (
        barometer.grade_level = 'sector'
        and barometer.is_graded
        and barometer.data_share < parameters.min_key_figure_share
    )
    or (barometer.is_graded and (barometer.rank is null or barometer.rank > barometer.ranked_count))
