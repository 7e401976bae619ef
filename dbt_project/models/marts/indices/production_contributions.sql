-- The production index broken down by indicator: I = 100 · x / m (m = the comparison group's mean of x over
-- its reference members), inverted as I = 200 − 100 · x / m for a lower-is-better indicator, contribution
-- = weight · I, share = contribution / P. P = Σ contributions, only when every indicator has an index.
-- Reference members (int_indices__reference_members): the group's members (var comparison_group) with every
-- indicator of the sector that year and with U, the same set U is centred on, so that the reference
-- members' P and U both average exactly 100.
with

inputs as (
    select * from {{ ref('int_indices__production_inputs') }}
),

reference_members as (
    select inputs.*
    from inputs
    inner join {{ ref('int_indices__reference_members') }} as reference_set
        on
            inputs.municipality_id = reference_set.municipality_id
            and inputs.sector = reference_set.sector
            and inputs.year = reference_set.year
),

reference as (
    select
        sector,
        year,
        indicator_id,
        {{ stable_avg('measured_value', 'municipality_id') }} as reference_mean,
        count(*) as reference_member_count
    from reference_members
    group by sector, year, indicator_id
),

indexed as (
    select
        inputs.*,
        reference.reference_mean,
        coalesce(reference.reference_member_count, 0) as reference_member_count,
        case
            when inputs.polarity = 'lower_better'
                then 200 - 100 * inputs.measured_value / nullif(reference.reference_mean, 0)
            else 100 * inputs.measured_value / nullif(reference.reference_mean, 0)
        end as indicator_index,
        coalesce(
            inputs.missing_reason,
            case
                when
                    reference.reference_mean is null
                    then 'no ' || '{{ comparison_group() }}' || ' member with every indicator and U'
                when
                    reference.reference_mean = 0
                    then '{{ comparison_group() }}' || ' mean of ' || inputs.indicator_id || ' is 0'
            end
        ) as index_missing_reason
    from inputs
    left join reference
        on
            inputs.sector = reference.sector
            and inputs.year = reference.year
            and inputs.indicator_id = reference.indicator_id
),

with_production as (
    select
        *,
        weight * indicator_index as contribution,
        case
            when bool_and(indicator_index is not null) over municipality_sector_year
                then sum(weight * indicator_index) over municipality_sector_year
        end as production_index
    from indexed
    -- Ordered by indicator over the whole partition: the sum adds in the same order in every build.
    window municipality_sector_year as (
        partition by municipality_id, sector, year
        order by indicator_id
        rows between unbounded preceding and unbounded following
    )
),

contributions as (
    select
        municipality_id,
        sector,
        year,
        weights_version,
        indicator_id,
        label_nb,
        unit,
        polarity,
        measure,
        weight,
        weight_basis,
        weight_source,
        raw_value,
        need_adjusted_population,
        measured_value,
        '{{ comparison_group() }}' as comparison_group,
        reference_mean,
        reference_member_count,
        indicator_index,
        contribution,
        production_index,
        contribution / nullif(production_index, 0) as contribution_share,
        production_index is not null as complete,
        index_missing_reason as missing_reason,
        vintage,
        release_updated,
        is_asss_member,
        municipality_id = '{{ focus_municipality() }}' as is_focus
    from with_production
),

flagged_contributions as (
    -- The flag of the value the contribution rests on (marts.dq_indicator_flags; 'ok' when it has no finding).
    select
        contributions.*,
        coalesce(flags.quality_flag, 'ok') as quality_flag
    from contributions
    left join {{ ref('dq_indicator_flags') }} as flags
        on
            contributions.municipality_id = flags.municipality_id
            and contributions.indicator_id = flags.indicator_id
            and contributions.year = flags.year
),

names as (
    select * from {{ ref('int_regions__names') }}
)

-- The name beside the id; every other column as above (the exclude only keeps municipality_id from repeating).
select
    flagged_contributions.municipality_id,
    names.municipality_name,
    flagged_contributions.* exclude (flagged_contributions.municipality_id)  -- noqa: AM04
from flagged_contributions
left join names on flagged_contributions.municipality_id = names.municipality_id
