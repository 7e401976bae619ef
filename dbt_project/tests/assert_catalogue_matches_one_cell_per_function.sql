{{ config(severity='warn') }}
-- A catalogue row should pick exactly one cell per function. More means a dimension the row does not
-- filter (e.g. kjonn, or an age group left empty) was summed over: a catalogue row to tighten.
select
    indicator_id,
    table_id,
    region_code,
    year,
    release_updated,
    cells_matched,
    functions_found
from {{ ref('int_cells__catalogue_matched') }}
where cells_matched > greatest(functions_found, 1)
