-- The comparison group's (var comparison_group, ASSS by default) figures per indicator and year.
-- Weighted mean: each rate weighted by its own denominator population (issue 12, finding 4), never by total
-- population: the member's denominator_value where its value carries one, else the value of the catalogue's
-- weight_id row (pupils, inhabitants 1-5, 67+, ...). When every member with a value has its numerator and
-- denominator the mean is the ratio of the summed numerators and denominators (the same thing, without the
-- rounding of published values). Rates without a weight_id and counts (kind 'base') get none. A member with
-- a value but no weight is named in members_without_weight, so the weighted and unweighted means are over
-- the same members or the row says which are missing.
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

weight_values as (
    select
        indicator_id as weight_id,
        municipality_id,
        year,
        value as weight_value
    from indicator_values
),

member_values as (
    select
        indicator_values.*,
        catalogue.is_ratio,
        coalesce(catalogue.scale, 1.0) as scale,
        catalogue.weight_id,
        coalesce(indicator_values.denominator_value, weight_values.weight_value) as weight
    from indicator_values
    inner join members
        on
            indicator_values.municipality_id = members.municipality_id
            and indicator_values.year = members.year
    inner join catalogue on indicator_values.indicator_id = catalogue.indicator_id
    left join weight_values
        on
            catalogue.weight_id = weight_values.weight_id
            and indicator_values.municipality_id = weight_values.municipality_id
            and indicator_values.year = weight_values.year
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
        any_value(weight_id) as weight_id,
        {{ stable_sum('value * weight', 'municipality_id') }} filter (where value is not null and weight > 0)
            as value_weight_sum,
        {{ stable_sum('weight', 'municipality_id') }} filter (where value is not null and weight > 0)
            as weight_sum,
        count(*) filter (where value is not null and weight > 0) as own_weight_member_count,
        string_agg(municipality_id, ',' order by municipality_id) filter (
            where value is not null and not coalesce(weight > 0, false)
        ) as members_without_weight
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
        when stats.kind = 'base' or stats.weight_id is null then null
        when stats.is_ratio and stats.ratio_member_count = stats.member_count and stats.denominator_sum > 0
            then stats.scale * stats.numerator_sum / stats.denominator_sum
        else stats.value_weight_sum / nullif(stats.weight_sum, 0)
    end as mean_weighted,
    case
        when stats.kind = 'base' or stats.weight_id is null then 'none'
        when stats.is_ratio and stats.ratio_member_count = stats.member_count and stats.denominator_sum > 0
            then 'ratio_of_sums'
        when stats.weight_sum > 0 then 'own_population'
        else 'none'
    end as weighting,
    case when stats.kind != 'base' then stats.weight_id end as weight_id,
    case
        when stats.kind = 'base' or stats.weight_id is null then 0
        when stats.is_ratio and stats.ratio_member_count = stats.member_count and stats.denominator_sum > 0
            then stats.ratio_member_count
        else stats.own_weight_member_count
    end as weighted_member_count,
    case when stats.kind != 'base' and stats.weight_id is not null then stats.members_without_weight end
        as members_without_weight,
    stats.min_value,
    stats.max_value,
    stats.member_count,
    flags.group_members as members,
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
