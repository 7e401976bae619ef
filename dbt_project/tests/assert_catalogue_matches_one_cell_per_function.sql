{{ config(severity='warn') }}
-- A catalogue row should pick exactly one cell per function and age it lists (an age group is the sum of
-- its single years: 106 cells for pop_total). More means a dimension the row does not filter was summed
-- over: a catalogue row to tighten. (07459's Kjonn is not such a dimension: the fetch eliminates it, so SSB
-- sends one cell per age, summed over both sexes.)
select
    indicator_id,
    table_id,
    region_code,
    year,
    release_updated,
    cells_matched,
    functions_found,
    ages_found
from {{ ref('int_cells__catalogue_matched') }}
where cells_matched > greatest(functions_found, 1) * greatest(ages_found, 1)
