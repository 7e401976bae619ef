-- Change of every indicator over one and three years per municipality (and aggregate region): absolute,
-- and in percent of the earlier value's magnitude (so a negative base keeps the sign of the change).
with

indicator_values as (
    select * from {{ ref('indicator_values') }}
)

select
    current_year.municipality_id,
    current_year.region_kind,
    current_year.indicator_id,
    current_year.sector,
    current_year.year,
    current_year.vintage,
    current_year.value,
    one_year_before.value as value_1y_before,
    current_year.value - one_year_before.value as change_1y_abs,
    100 * (current_year.value - one_year_before.value) / nullif(abs(one_year_before.value), 0) as change_1y_pct,
    coalesce(current_year.comparable_across_break and one_year_before.comparable_across_break, false)
        as is_comparable_1y,
    three_years_before.value as value_3y_before,
    current_year.value - three_years_before.value as change_3y_abs,
    100 * (current_year.value - three_years_before.value) / nullif(abs(three_years_before.value), 0)
        as change_3y_pct,
    coalesce(current_year.comparable_across_break and three_years_before.comparable_across_break, false)
        as is_comparable_3y
from indicator_values as current_year
left join indicator_values as one_year_before
    on
        current_year.municipality_id = one_year_before.municipality_id
        and current_year.indicator_id = one_year_before.indicator_id
        and current_year.year - 1 = one_year_before.year
left join indicator_values as three_years_before
    on
        current_year.municipality_id = three_years_before.municipality_id
        and current_year.indicator_id = three_years_before.indicator_id
        and current_year.year - 3 = three_years_before.year
