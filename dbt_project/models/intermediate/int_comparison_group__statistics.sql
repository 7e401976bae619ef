-- The comparison group's (var comparison_group) unweighted statistics per indicator and year, with how far
-- they can be trusted: how many members' values are not comparable (on other borders, e.g. a merged
-- municipality's published rate before the merger, or a split code), and whether the statistic is
-- comparable with the previous year's. It is when the same members have a value in both years, each
-- member's two values describe the same territory (border_basis) with no definition break between them,
-- and (for a KOSTRA group) both years belong to the same grouping. The one owner of these rules for
-- service_profile, asss_aggregates and indicator_trend.
with

indicator_values as (
    select * from {{ ref('indicator_values') }}
    where region_kind = 'municipality'
),

members as (
    select * from {{ ref('int_comparison_group__members') }}
    where role = 'member'
),

groupings as (
    select * from {{ ref('stg_reference__kostra_groupings') }}
),

member_values as (
    select indicator_values.*
    from indicator_values
    inner join members
        on
            indicator_values.municipality_id = members.municipality_id
            and indicator_values.year = members.year
),

stats as (
    select
        indicator_id,
        year,
        {{ group_statistics('value', 'group') }},
        count(value) filter (where not comparable_across_break) as group_noncomparable_member_count,
        string_agg(municipality_id, ', ' order by municipality_id) filter (where value is not null) as group_members,
        string_agg(municipality_id, ', ' order by municipality_id) filter (
            where value is not null and not comparable_across_break
        ) as noncomparable_members
    from member_values
    group by indicator_id, year
),

pairs as (
    select
        current_year.indicator_id,
        current_year.year,
        count(*) filter (
            where
            current_year.border_basis = previous_year.border_basis
            and current_year.series_break is null
        ) as comparable_pair_count,
        string_agg(current_year.municipality_id, ', ' order by current_year.municipality_id) filter (
            where
            current_year.border_basis != previous_year.border_basis
            or current_year.series_break is not null
        ) as broken_members
    from member_values as current_year
    inner join member_values as previous_year
        on
            current_year.municipality_id = previous_year.municipality_id
            and current_year.indicator_id = previous_year.indicator_id
            and current_year.year - 1 = previous_year.year
    where current_year.value is not null and previous_year.value is not null
    group by current_year.indicator_id, current_year.year
),

grouping_by_year as (
    select
        years.year,
        groupings.kostra_grouping
    from (select distinct year from indicator_values) as years
    left join groupings on years.year between groupings.first_year and coalesce(groupings.last_year, 9999)
)

select
    stats.indicator_id,
    stats.year,
    this_grouping.kostra_grouping,
    stats.group_mean,
    stats.group_min,
    stats.group_max,
    stats.group_member_count,
    stats.group_noncomparable_member_count,
    stats.group_members,
    coalesce(
        stats.group_member_count > 0
        and stats.group_member_count = previous_stats.group_member_count
        and stats.group_member_count = pairs.comparable_pair_count
        {%- if comparison_group_kind() == 'kostra' %}
            and this_grouping.kostra_grouping = previous_grouping.kostra_grouping
        {%- endif %},
        false
    ) as group_is_comparable_previous_year,
    nullif(concat_ws(
        '; ',
        case
            when stats.noncomparable_members is not null
                then 'not on today''s borders: ' || stats.noncomparable_members
        end,
        case when previous_stats.group_member_count is null then 'no statistic the year before' end,
        case
            when
                stats.group_member_count != previous_stats.group_member_count
                or stats.group_member_count != coalesce(pairs.comparable_pair_count, 0)
                and pairs.broken_members is null
                then 'members with a value differ from the year before'
        end,
        case when pairs.broken_members is not null then 'border or definition break: ' || pairs.broken_members end
        {%- if comparison_group_kind() == 'kostra' %},
            case
                when this_grouping.kostra_grouping != previous_grouping.kostra_grouping
                    then 'KOSTRA grouping changed (' || previous_grouping.kostra_grouping || ' → '
                    || this_grouping.kostra_grouping || '): another group under the same code'
            end
        {%- endif %}
    ), '') as group_comparability_note
from stats
left join stats as previous_stats
    on
        stats.indicator_id = previous_stats.indicator_id
        and stats.year - 1 = previous_stats.year
left join pairs
    on
        stats.indicator_id = pairs.indicator_id
        and stats.year = pairs.year
left join grouping_by_year as this_grouping on stats.year = this_grouping.year
{%- if comparison_group_kind() == 'kostra' %}
    left join grouping_by_year as previous_grouping on stats.year - 1 = previous_grouping.year
{%- endif %}
