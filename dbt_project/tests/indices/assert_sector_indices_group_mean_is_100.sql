-- P and U are indexed so that the comparison group's members average exactly 100 in every sector and year
-- (P over the members with a complete P, U over the members with U). E = 100 · P / U is a ratio and has no
-- such property.
select
    sector,
    year,
    avg(production_index) as mean_production_index,
    avg(expenditure_index) as mean_expenditure_index
from {{ ref('sector_indices') }}
where is_asss_member
group by sector, year
having
    abs(avg(production_index) - 100) > 1e-6
    or abs(avg(expenditure_index) - 100) > 1e-6
