-- Net expenditure on home-based care (function 254) per inhabitant of each age group, as ASSS splits it:
-- f254 is divided between 0-66 and 67+ by each group's share of the weekly hours assigned to home-service
-- users (ASSS's formula A * (B / (B + C)) / D, docs/domain-notes.md): A = nde_f254 (1000 kr), B = the group's
-- assigned hours, C = the other group's, D = the group's inhabitants. SSB publishes none of these split
-- figures. Each component is taken "as of" every moment any of them was released, like the computed ratios.
{% set groups = [('0_66', '67_pluss'), ('67_pluss', '0_66')] %}
with

components as (
    select * from {{ ref('int_cells__catalogue_matched') }}
    where indicator_id in (
        'nde_f254', 'po_timer_uke_0_66', 'po_timer_uke_67_pluss', 'pop_0_66', 'pop_67_pluss'
    )
),

moments as (
    select distinct
        region_code,
        year,
        release_updated
    from components
),

-- Every component's newest release up to each moment.
as_of as (
    select
        moments.region_code,
        moments.year,
        moments.release_updated,
        components.indicator_id,
        components.value,
        components.status,
        components.vintage,
        components.value_note,
        components.series_break
    from moments
    inner join components
        on
            moments.region_code = components.region_code
            and moments.year = components.year
            and moments.release_updated >= components.release_updated
    qualify row_number() over (
        partition by moments.region_code, moments.year, moments.release_updated, components.indicator_id
        order by components.release_updated desc
    ) = 1
),

pivoted as (
    select
        region_code,
        year,
        release_updated,
        count(distinct indicator_id) as components_found,
        max(value) filter (where indicator_id = 'nde_f254') as expenditure,
        max(value) filter (where indicator_id = 'po_timer_uke_0_66') as hours_0_66,
        max(value) filter (where indicator_id = 'po_timer_uke_67_pluss') as hours_67_pluss,
        max(value) filter (where indicator_id = 'pop_0_66') as inhabitants_0_66,
        max(value) filter (where indicator_id = 'pop_67_pluss') as inhabitants_67_pluss,
        min(status) as status,
        case when bool_or(vintage = 'unrevised') then 'unrevised' else 'revised' end as vintage,
        nullif(string_agg(distinct value_note, '; ' order by value_note), '') as value_note,
        nullif(string_agg(distinct series_break, '; ' order by series_break), '') as series_break
    from as_of
    group by region_code, year, release_updated
)

{% for own, other in groups %}
    select
        'po_nde_per_innb_{{ own }}' as indicator_id,
        region_code,
        year,
        vintage,
        release_updated,
        1000 * expenditure * hours_{{ own }} / nullif(hours_{{ own }} + hours_{{ other }}, 0)
        / nullif(inhabitants_{{ own }}, 0) as value,
        status,
        '12367' as table_id,
        'KOSbelop0000' as contents_code,
        expenditure * hours_{{ own }} / nullif(hours_{{ own }} + hours_{{ other }}, 0) as numerator_value,
        inhabitants_{{ own }} as denominator_value,
        'computed' as value_source,
        value_note,
        series_break
    from pivoted
    -- Only where all five components have been released.
    where components_found = 5
    {% if not loop.last %}union all{% endif %}
{% endfor %}
