-- The comparison group's (var comparison_group, ASSS by default) figures per indicator and year.
-- Weighted mean: for a ratio indicator the ratio of the members' summed numerators and denominators (the
-- same as weighting each member by its denominator); for another non-count indicator the mean weighted by
-- population (catalogue row var population_indicator_id); for counts (kind 'base') none.
with

indicator_values as (
    select * from {{ ref('indicator_values') }}
),

catalogue as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

members as (
    select * from {{ ref('int_comparison_group__members') }}
    where role = 'member'
),

members_expected as (
    select
        year,
        count(*) as members_expected
    from members
    group by year
),

population as (
    select
        municipality_id,
        year,
        value as population
    from indicator_values
    where indicator_id = '{{ var("population_indicator_id") }}'
),

member_values as (
    select
        indicator_values.*,
        catalogue.is_ratio,
        coalesce(catalogue.scale, 1.0) as scale,
        population.population
    from indicator_values
    inner join members
        on
            indicator_values.municipality_id = members.municipality_id
            and indicator_values.year = members.year
    inner join catalogue on indicator_values.indicator_id = catalogue.indicator_id
    left join population
        on
            indicator_values.municipality_id = population.municipality_id
            and indicator_values.year = population.year
),

stats as (
    select
        indicator_id,
        year,
        any_value(sector) as sector,
        any_value(label_nb) as label_nb,
        any_value(unit) as unit,
        any_value(kind) as kind,
        bool_or(is_ratio) as is_ratio,
        any_value(scale) as scale,
        {{ stable_avg('value', 'municipality_id') }} as mean_unweighted,
        min(value) as min_value,
        max(value) as max_value,
        count(value) as member_count,
        case when bool_or(value is not null and vintage = 'unrevised') then 'unrevised' else 'revised' end as vintage,
        {{ stable_sum('numerator_value', 'municipality_id') }} filter (
            where value is not null and numerator_value is not null and denominator_value is not null
        ) as numerator_sum,
        {{ stable_sum('denominator_value', 'municipality_id') }} filter (
            where value is not null and numerator_value is not null and denominator_value is not null
        ) as denominator_sum,
        count(*) filter (
            where value is not null and numerator_value is not null and denominator_value is not null
        ) as ratio_member_count,
        {{ stable_sum('value * population', 'municipality_id') }} filter (where value is not null and population > 0)
            as value_population_sum,
        {{ stable_sum('population', 'municipality_id') }} filter (where value is not null and population > 0)
            as population_sum,
        count(*) filter (where value is not null and population > 0) as population_member_count
    from member_values
    group by indicator_id, year
)

select
    stats.indicator_id,
    stats.year,
    '{{ comparison_group() }}' as comparison_group,
    stats.sector,
    stats.label_nb,
    stats.unit,
    stats.vintage,
    stats.mean_unweighted,
    case
        when stats.is_ratio then stats.scale * stats.numerator_sum / nullif(stats.denominator_sum, 0)
        when stats.kind != 'base' then stats.value_population_sum / nullif(stats.population_sum, 0)
    end as mean_weighted,
    case
        when stats.is_ratio then 'ratio_of_sums'
        when stats.kind != 'base' and stats.population_sum > 0 then 'population'
        else 'none'
    end as weighting,
    case
        when stats.is_ratio then stats.ratio_member_count
        when stats.kind != 'base' then stats.population_member_count
        else 0
    end as weighted_member_count,
    stats.min_value,
    stats.max_value,
    stats.member_count,
    coalesce(members_expected.members_expected, 0) as members_expected,
    -- Comparability of the mean, min and max (int_comparison_group__statistics owns the rules).
    coalesce(flags.group_noncomparable_member_count, 0) as noncomparable_member_count,
    coalesce(flags.group_is_comparable_previous_year, false) as is_comparable_previous_year,
    flags.group_comparability_note as comparability_note
from stats
left join members_expected on stats.year = members_expected.year
left join {{ ref('int_comparison_group__statistics') }} as flags
    on
        stats.indicator_id = flags.indicator_id
        and stats.year = flags.year
