{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_cells__catalogue_matched'}}}) }}
-- Every four-digit region code in matched cells should be in seed municipalities; an unknown code's
-- values never reach the marts, so a gap in the seed would silently drop a municipality. Longyearbyen
-- (2111) and "Uoppgitt" (9999) are region codes SSB publishes but not municipalities.
select distinct
    matched_cells.region_code,
    matched_cells.year
from {{ ref('int_cells__catalogue_matched') }} as matched_cells
left join {{ ref('stg_reference__municipalities') }} as municipalities
    on matched_cells.region_code = municipalities.municipality_code
where
    regexp_full_match(matched_cells.region_code, '[0-9]{4}')
    and matched_cells.region_code not in ('2111', '9999')
    and municipalities.municipality_code is null
