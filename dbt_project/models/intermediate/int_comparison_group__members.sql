-- Who is in the comparison group (var comparison_group) each year: 'ASSS' reads seed asss_membership
-- (role member or comparator); a KOSTRA group code such as 'EKG13' takes that group's municipalities.
{%- set group = comparison_group() %}
{% if group == 'ASSS' %}
    with

    membership as (
        select * from {{ ref('stg_reference__asss_membership') }}
    )

    select
        '{{ group }}' as comparison_group,
        municipality_id,
        year,
        role
    from membership
{% else %}
    with

    groups as (
        select * from {{ ref('int_municipalities__kostra_group_by_year') }}
    )

    select
        '{{ group }}' as comparison_group,
        municipality_id,
        year,
        'member' as role
    from groups
    where kostra_group = '{{ group }}'
{% endif %}
