-- Change of every indicator over one and three years per municipality (and aggregate region): absolute,
-- and in percent of the earlier value's magnitude (so a negative base keeps the sign of the change).
-- Two years compare only on the same territory (indicator_values.border_basis: today's borders, the same
-- codes before a reform, or for a KOSTRA group the same grouping, since SSB reused the codes in 2020) and
-- with no definition break between them; comparability_note_1y/_3y say why not. The comparison group's
-- statistic carries its own flags (int_comparison_group__statistics).
with

-- Not materialized: DuckDB keeps a CTE read more than once in memory; reading the table again is cheaper.
indicator_values as not materialized (
    select * from {{ ref('indicator_values') }}
),

-- Years in which SSB changed an indicator's definition: no comparison reaches back across them.
definition_breaks as (
    select
        municipality_id,
        indicator_id,
        year,
        series_break
    from indicator_values
    where series_break is not null
),

breaks_within as (
    select
        current_year.municipality_id,
        current_year.indicator_id,
        current_year.year,
        bool_or(definition_breaks.year = current_year.year) as break_1y,
        bool_or(definition_breaks.year > current_year.year - 3) as break_3y,
        string_agg(
            distinct definition_breaks.series_break, '; ' order by definition_breaks.series_break
        ) as break_reason
    from indicator_values as current_year
    inner join definition_breaks
        on
            current_year.municipality_id = definition_breaks.municipality_id
            and current_year.indicator_id = definition_breaks.indicator_id
            and definition_breaks.year between current_year.year - 2 and current_year.year
    group by current_year.municipality_id, current_year.indicator_id, current_year.year
)

select
    current_year.municipality_id,
    current_year.municipality_name,
    current_year.region_kind,
    current_year.indicator_id,
    current_year.sector,
    current_year.year,
    current_year.vintage,
    current_year.value,
    one_year_before.value as value_1y_before,
    current_year.value - one_year_before.value as change_1y_abs,
    100 * (current_year.value - one_year_before.value) / nullif(abs(one_year_before.value), 0) as change_1y_pct,
    coalesce(
        current_year.border_basis = one_year_before.border_basis
        and not coalesce(breaks_within.break_1y, false),
        false
    ) as is_comparable_1y,
    {{ comparability_note('current_year', 'one_year_before', 'breaks_within.break_1y') }} as comparability_note_1y,
    three_years_before.value as value_3y_before,
    current_year.value - three_years_before.value as change_3y_abs,
    100 * (current_year.value - three_years_before.value) / nullif(abs(three_years_before.value), 0)
        as change_3y_pct,
    coalesce(
        current_year.border_basis = three_years_before.border_basis
        and not coalesce(breaks_within.break_3y, false),
        false
    ) as is_comparable_3y,
    {{ comparability_note('current_year', 'three_years_before', 'breaks_within.break_3y') }} as comparability_note_3y,
    breaks_within.break_reason as series_break_reason,
    group_stats.group_mean,
    group_stats.group_noncomparable_member_count,
    coalesce(group_stats.group_is_comparable_previous_year, false) as group_is_comparable_previous_year,
    group_stats.group_comparability_note
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
left join breaks_within
    on
        current_year.municipality_id = breaks_within.municipality_id
        and current_year.indicator_id = breaks_within.indicator_id
        and current_year.year = breaks_within.year
left join {{ ref('int_comparison_group__statistics') }} as group_stats
    on
        current_year.indicator_id = group_stats.indicator_id
        and current_year.year = group_stats.year
