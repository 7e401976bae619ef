-- P and U are indexed so that the reference members (int_indices__reference_members: the comparison group's
-- members with u and every P indicator, one set for both) average exactly 100 in every sector and year, and
-- P and U are centred on the same number of members (issue 12, finding 5). E = 100 · P / U is a ratio and
-- has no such property.
select
    sector,
    year,
    avg(production_index) as mean_production_index,
    avg(expenditure_index) as mean_expenditure_index,
    max(production_reference_member_count) as production_members,
    max(expenditure_reference_member_count) as expenditure_members
from {{ ref('sector_indices') }}
where is_reference_member and weights_version is not null
group by sector, year
having
    abs(avg(production_index) - 100) > 1e-6
    or abs(avg(expenditure_index) - 100) > 1e-6
    or count(production_index) != count(*)
    or min(production_reference_member_count) != max(expenditure_reference_member_count)
    or min(expenditure_reference_member_count) != max(production_reference_member_count)
