-- A complete row has P, U and E = 100 · P / U; an incomplete one names its missing inputs.
select
    municipality_id,
    sector,
    year,
    production_index,
    expenditure_index,
    efficiency_index,
    complete,
    incomplete_reason
from {{ ref('sector_indices') }}
where
    (complete and (
        production_index is null
        or expenditure_index is null
        or abs(efficiency_index - 100 * production_index / expenditure_index) > 1e-9
    ))
    or (not complete and (incomplete_reason is null or efficiency_index is not null))
