-- Who is in the comparison group (var comparison_group, macros/comparison_group.sql) each year:
-- 'ASSS' reads seed asss_membership (role member or comparator); a KOSTRA group takes that group's
-- municipalities ('EKGnn' in each year's grouping, 'kostra:<grouping>:EKGnn' only in that grouping's
-- years); a list takes exactly those municipalities every year; 'similar:dddd' takes that municipality and
-- its k nearest by structure that year (int_similarity__nearest), with their rank and distance.
{%- set group = comparison_group() %}
{%- set kind = comparison_group_kind() %}
{% if kind == 'asss' %}
    with

    membership as (
        select * from {{ ref('stg_reference__asss_membership') }}
    )

    select
        '{{ group }}' as comparison_group,
        municipality_id,
        year,
        role,
        cast(null as bigint) as similarity_rank,
        cast(null as double) as distance
    from membership
{% elif kind == 'kostra' %}
    {%- if group.startswith('kostra:') %}
        {%- set grouping = group.split(':')[1] %}
        {%- set code = group.split(':')[2] %}
    {%- else %}
        {%- set grouping = none %}
        {%- set code = group %}
    {%- endif %}
    with

    groups as (
        select * from {{ ref('int_municipalities__kostra_group_by_year') }}
    ),

    groupings as (
        select * from {{ ref('stg_reference__kostra_groupings') }}
    )

    select
        '{{ group }}' as comparison_group,
        groups.municipality_id,
        groups.year,
        'member' as role,
        cast(null as bigint) as similarity_rank,
        cast(null as double) as distance
    from groups
    inner join groupings on groups.year between groupings.first_year and coalesce(groupings.last_year, 9999)
    where
        groups.kostra_group = '{{ code }}'
        {%- if grouping is not none %}
            and groupings.kostra_grouping = '{{ grouping }}'
        {%- endif %}
{% elif kind == 'list' %}
    with

    years as (
        select distinct year from {{ ref('indicator_values') }}
    ),

    listed as (
        select unnest(string_split('{{ group.split(':')[1] }}', ',')) as municipality_id
    )

    select
        '{{ group }}' as comparison_group,
        listed.municipality_id,
        years.year,
        'member' as role,
        cast(null as bigint) as similarity_rank,
        cast(null as double) as distance
    from listed
    cross join years
{% else %}
    {%- set centre = group.split(':')[1] %}
    with

    nearest as (
        select * from {{ ref('int_similarity__nearest') }}
        where municipality_id = '{{ centre }}'
    )

    select
        '{{ group }}' as comparison_group,
        similar_municipality_id as municipality_id,
        year,
        'member' as role,
        similarity_rank,
        distance
    from nearest

    union all

    -- The municipality itself, as Bærum is a member of ASSS: rank 0, distance 0.
    select distinct
        '{{ group }}' as comparison_group,
        municipality_id,
        year,
        'member' as role,
        0 as similarity_rank,
        0.0 as distance
    from nearest
{% endif %}
