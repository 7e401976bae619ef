-- Tjenesteprofil: every municipality's indicators per year beside the comparison group (var
-- comparison_group, ASSS by default; the asss_* columns hold that group's figures): the group's
-- unweighted mean, min and max over its members of that year, the index (group mean = 100), the national
-- value, the KOSTRA group's value, and the first extra comparator. Counts (kind 'base') are left out:
-- indexing a count against a group mean says nothing about the service.
{%- set comparators = municipality_list_var('extra_comparators') %}
{%- set first_comparator = comparators[0] if comparators else none %}
with

indicator_values as (
    select * from {{ ref('indicator_values') }}
    where kind != 'base'
),

members as (
    select * from {{ ref('int_comparison_group__members') }}
),

kostra_groups as (
    select * from {{ ref('int_municipalities__kostra_group_by_year') }}
),

-- The group's mean, min, max and their comparability flags have one owner: int_comparison_group__statistics.
group_stats as (
    select * from {{ ref('int_comparison_group__statistics') }}
),

groupings as (
    select * from {{ ref('stg_reference__kostra_groupings') }}
),

members_expected as (
    select
        year,
        count(*) as asss_members_expected
    from members
    where role = 'member'
    group by year
),

national as (
    select
        indicator_id,
        year,
        value as national_value
    from indicator_values
    where municipality_id = 'EAK'
),

kostra_group_values as (
    select
        indicator_id,
        year,
        municipality_id as kostra_group,
        value as kostra_group_value
    from indicator_values
    where municipality_id like 'EKG%'
),

comparator as (
    select
        indicator_id,
        year,
        municipality_id as comparator_id,
        value as comparator_value
    from indicator_values
    where municipality_id = '{{ first_comparator }}'
),

profile as (
    select
        indicator_values.municipality_id,
        indicator_values.municipality_name,
        indicator_values.region_code,
        indicator_values.year,
        indicator_values.indicator_id,
        indicator_values.sector,
        indicator_values.label_nb,
        indicator_values.unit,
        indicator_values.polarity,
        indicator_values.kind,
        indicator_values.vintage,
        indicator_values.value,
        indicator_values.status,
        indicator_values.comparable_across_break,
        '{{ comparison_group() }}' as comparison_group,
        indicator_values.border_basis,
        group_stats.group_mean as asss_mean,
        group_stats.group_min as asss_min,
        group_stats.group_max as asss_max,
        coalesce(group_stats.group_member_count, 0) as asss_member_count,
        coalesce(members_expected.asss_members_expected, 0) as asss_members_expected,
        coalesce(group_stats.group_noncomparable_member_count, 0) as group_noncomparable_member_count,
        coalesce(group_stats.group_is_comparable_previous_year, false) as group_is_comparable_previous_year,
        group_stats.group_comparability_note,
        group_stats.group_members,
        100 * indicator_values.value / nullif(group_stats.group_mean, 0) as index_asss,
        national.national_value,
        groupings.kostra_grouping,
        kostra_groups.kostra_group,
        kostra_group_values.kostra_group_value,
        {% if first_comparator -%}
            '{{ first_comparator }}' as comparator_id,
        {%- else -%}
            cast(null as varchar) as comparator_id,
        {%- endif %}
        comparator.comparator_value,
        100 * comparator.comparator_value / nullif(group_stats.group_mean, 0) as comparator_index,
        indicator_values.municipality_id = '{{ focus_municipality() }}' as is_focus,
        coalesce(member_years.role = 'member', false) as is_asss_member,
        {% if comparators -%}
            indicator_values.municipality_id in ('{{ comparators | join("', '") }}') as is_extra_comparator
        {%- else -%}
            false as is_extra_comparator
        {%- endif %}
    from indicator_values
    left join group_stats
        on
            indicator_values.indicator_id = group_stats.indicator_id
            and indicator_values.year = group_stats.year
    left join members_expected on indicator_values.year = members_expected.year
    left join groupings
        on indicator_values.year between groupings.first_year and coalesce(groupings.last_year, 9999)
    left join national
        on
            indicator_values.indicator_id = national.indicator_id
            and indicator_values.year = national.year
    left join kostra_groups
        on
            indicator_values.municipality_id = kostra_groups.municipality_id
            and indicator_values.year = kostra_groups.year
    left join kostra_group_values
        on
            indicator_values.indicator_id = kostra_group_values.indicator_id
            and indicator_values.year = kostra_group_values.year
            and kostra_groups.kostra_group = kostra_group_values.kostra_group
    left join comparator
        on
            indicator_values.indicator_id = comparator.indicator_id
            and indicator_values.year = comparator.year
    left join members as member_years
        on
            indicator_values.municipality_id = member_years.municipality_id
            and indicator_values.year = member_years.year
    where indicator_values.region_kind = 'municipality'
)

select
    profile.*,
    -- The comparison group is configurable (comparison_group): these names say what the columns are; the
    -- asss_* names above stay, documented as aliases, for the queries analysts already have.
    profile.asss_mean as group_mean,
    profile.asss_min as group_min,
    profile.asss_max as group_max,
    profile.asss_member_count as group_member_count,
    profile.asss_members_expected as group_members_expected,
    profile.index_asss as index_group,
    profile.is_asss_member as is_group_member,
    profile.index_asss - 100 as deviation_pct,
    coalesce(flags.quality_flag, 'ok') as quality_flag
from profile
left join {{ ref('dq_indicator_flags') }} as flags
    on
        profile.municipality_id = flags.municipality_id
        and profile.indicator_id = flags.indicator_id
        and profile.year = flags.year
