-- The one member set P and U are both centred on, per index sector and year (issue 12, finding 5): the
-- comparison group's members (var comparison_group) with u (need-adjusted expenditure) and every production
-- indicator of the sector that year. A member missing either leaves both references, so E = 100 · P / U
-- compares P and U relative to the same average municipality, and the reference members' P and U both
-- average exactly 100.
with

expenditure as (
    select * from {{ ref('int_indices__expenditure') }}
),

inputs as (
    select * from {{ ref('int_indices__production_inputs') }}
),

members as (
    select * from {{ ref('int_comparison_group__members') }}
    where role = 'member'
),

production_completeness as (
    select
        municipality_id,
        sector,
        year,
        bool_and(measured_value is not null) as has_all_indicators
    from inputs
    group by municipality_id, sector, year
)

select
    expenditure.municipality_id,
    expenditure.sector,
    expenditure.year
from expenditure
inner join members
    on
        expenditure.municipality_id = members.municipality_id
        and expenditure.year = members.year
left join production_completeness
    on
        expenditure.municipality_id = production_completeness.municipality_id
        and expenditure.sector = production_completeness.sector
        and expenditure.year = production_completeness.year
where
    expenditure.expenditure_per_need_adjusted_inhabitant is not null
    -- A sector without production weights has no P; its U is centred on the members with u.
    and coalesce(production_completeness.has_all_indicators, true)
