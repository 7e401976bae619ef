-- Production (P), need-adjusted expenditure (U) and efficiency (E = 100 · P / U) per municipality, index
-- sector and year, each indexed to the comparison group's mean (var comparison_group, ASSS by default).
-- U = 100 · u / mean(u) with u = kroner per need-adjusted inhabitant (int_indices__expenditure) and the
-- mean over the reference members (int_indices__reference_members: the group's members with u and every P
-- indicator), the same members P is centred on. P comes from production_contributions. A missing input leaves the
-- index NULL, complete false and incomplete_reason naming the inputs: never a partial sum. Pleie og omsorg
-- is indexed whole (U only under weights v2) and per age group, 0-66 and 67+ (expenditure split by the
-- share of assigned weekly hours, int_indices__expenditure); cost_key_is_demo marks a synthetic cost key.
with

expenditure as (
    select * from {{ ref('int_indices__expenditure') }}
),

contributions as (
    select * from {{ ref('production_contributions') }}
),

members as (
    select * from {{ ref('int_comparison_group__members') }}
    where role = 'member'
),

reference_set as (
    select * from {{ ref('int_indices__reference_members') }}
),

-- U's mean over the same members as P's (int_indices__reference_members), never over every member with u.
expenditure_reference as (
    select
        expenditure.sector,
        expenditure.year,
        {{ stable_avg('expenditure.expenditure_per_need_adjusted_inhabitant', 'expenditure.municipality_id') }}
            as expenditure_reference_mean,
        count(expenditure.expenditure_per_need_adjusted_inhabitant) as expenditure_reference_member_count,
        string_agg(expenditure.municipality_id, ', ' order by expenditure.municipality_id) as reference_members
    from expenditure
    inner join reference_set
        on
            expenditure.municipality_id = reference_set.municipality_id
            and expenditure.sector = reference_set.sector
            and expenditure.year = reference_set.year
    group by expenditure.sector, expenditure.year
),

production as (
    select
        municipality_id,
        sector,
        year,
        any_value(weights_version) as weights_version,
        any_value(production_index) as production_index,
        any_value(reference_member_count) as production_reference_member_count,
        count(*) as production_indicator_count,
        count(indicator_index) as production_indicators_with_index,
        nullif(string_agg(distinct missing_reason, '; ' order by missing_reason), '') as production_missing_reason,
        bool_or(vintage = 'unrevised') as any_unrevised,
        bool_or(vintage is not null) as any_vintage,
        max(release_updated) as inputs_release_updated,
        max(case quality_flag when 'unreliable' then 2 when 'use_with_care' then 1 else 0 end)
            as production_flag_rank
    from contributions
    group by municipality_id, sector, year
),

-- U rests on the sector's net expenditure and its target population: their flags count as P's do.
expenditure_flags as (
    select
        expenditure.municipality_id,
        expenditure.sector,
        expenditure.year,
        max(case flags.quality_flag when 'unreliable' then 2 when 'use_with_care' then 1 else 0 end)
            as expenditure_flag_rank
    from expenditure
    inner join {{ ref('dq_indicator_flags') }} as flags
        on
            expenditure.municipality_id = flags.municipality_id
            and expenditure.year = flags.year
            and flags.indicator_id in (
                expenditure.expenditure_indicator_id,
                expenditure.target_population_indicator_id,
                expenditure.hours_indicator_id,
                expenditure.other_hours_indicator_id
            )
    group by expenditure.municipality_id, expenditure.sector, expenditure.year
),

combined as (
    select
        expenditure.municipality_id,
        expenditure.sector,
        expenditure.year,
        production.weights_version,
        production.production_index,
        greatest(
            coalesce(production.production_flag_rank, 0), coalesce(expenditure_flags.expenditure_flag_rank, 0)
        ) as flag_rank,
        100 * expenditure.expenditure_per_need_adjusted_inhabitant
        / nullif(expenditure_reference.expenditure_reference_mean, 0) as expenditure_index,
        expenditure.net_expenditure,
        expenditure.sector_net_expenditure,
        expenditure.assigned_hours,
        expenditure.other_assigned_hours,
        expenditure.hours_share,
        expenditure.target_population,
        expenditure.cost_index,
        expenditure.published_cost_index,
        expenditure.cost_key_basis,
        expenditure.cost_key_gronthefte_year,
        expenditure.cost_key_source,
        expenditure.cost_key_is_demo,
        expenditure.need_adjusted_population,
        expenditure.expenditure_per_need_adjusted_inhabitant,
        expenditure_reference.expenditure_reference_mean,
        coalesce(expenditure_reference.expenditure_reference_member_count, 0) as expenditure_reference_member_count,
        expenditure_reference.reference_members,
        coalesce(production.production_reference_member_count, 0) as production_reference_member_count,
        coalesce(production.production_indicator_count, 0) as production_indicator_count,
        coalesce(production.production_indicators_with_index, 0) as production_indicators_with_index,
        case
            when production.municipality_id is null then 'no production weights for the sector'
            else production.production_missing_reason
        end as production_missing_reason,
        coalesce(
            expenditure.missing_reason,
            case
                when expenditure_reference.expenditure_reference_mean is null
                    then 'no {{ comparison_group() }} member with need-adjusted expenditure and every P indicator'
                when expenditure_reference.expenditure_reference_mean = 0
                    then '{{ comparison_group() }} mean of need-adjusted expenditure is 0'
            end
        ) as expenditure_missing_reason,
        case
            when expenditure.vintage = 'unrevised' or production.any_unrevised then 'unrevised'
            when expenditure.vintage is not null or production.any_vintage then 'revised'
        end as vintage,
        greatest(expenditure.inputs_release_updated, production.inputs_release_updated) as inputs_release_updated,
        members.municipality_id is not null as is_asss_member,
        reference_set.municipality_id is not null as is_reference_member
    from expenditure
    left join expenditure_flags
        on
            expenditure.municipality_id = expenditure_flags.municipality_id
            and expenditure.sector = expenditure_flags.sector
            and expenditure.year = expenditure_flags.year
    left join production
        on
            expenditure.municipality_id = production.municipality_id
            and expenditure.sector = production.sector
            and expenditure.year = production.year
    left join expenditure_reference
        on
            expenditure.sector = expenditure_reference.sector
            and expenditure.year = expenditure_reference.year
    left join members
        on
            expenditure.municipality_id = members.municipality_id
            and expenditure.year = members.year
    left join reference_set
        on
            expenditure.municipality_id = reference_set.municipality_id
            and expenditure.sector = reference_set.sector
            and expenditure.year = reference_set.year
),

indices as (
    select
        municipality_id,
        sector,
        year,
        '{{ comparison_group() }}' as comparison_group,
        weights_version,
        production_index,
        expenditure_index,
        100 * production_index / nullif(expenditure_index, 0) as efficiency_index,
        production_index is not null and coalesce(expenditure_index > 0, false) as complete,
        nullif(concat_ws(
            '; ',
            case when production_index is null then 'P: ' || coalesce(production_missing_reason, 'unknown') end,
            case when expenditure_index is null then 'U: ' || coalesce(expenditure_missing_reason, 'unknown') end,
            case when expenditure_index = 0 then 'U is 0' end
        ), '') as incomplete_reason,
        vintage,
        inputs_release_updated,
        net_expenditure,
        sector_net_expenditure,
        assigned_hours,
        other_assigned_hours,
        hours_share,
        target_population,
        cost_index,
        published_cost_index,
        cost_key_basis,
        cost_key_gronthefte_year,
        cost_key_source,
        cost_key_is_demo,
        need_adjusted_population,
        expenditure_per_need_adjusted_inhabitant,
        expenditure_reference_mean,
        expenditure_reference_member_count,
        reference_members,
        production_reference_member_count,
        production_indicator_count,
        production_indicators_with_index,
        is_asss_member,
        is_reference_member,
        municipality_id = '{{ focus_municipality() }}' as is_focus,
        -- The worst flag of the values P and U rest on (marts.dq_indicator_flags).
        case flag_rank when 2 then 'unreliable' when 1 then 'use_with_care' else 'ok' end as quality_flag
    from combined
),

names as (
    select * from {{ ref('int_regions__names') }}
)

-- The name beside the id; every other column as above (the exclude only keeps municipality_id from repeating).
select
    indices.municipality_id,
    names.municipality_name,
    indices.* exclude (indices.municipality_id)  -- noqa: AM04
from indices
left join names on indices.municipality_id = names.municipality_id
