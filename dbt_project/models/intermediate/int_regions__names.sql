-- One name per id the marts key their rows by (municipality_id): a municipality's name as SSB writes it
-- today, from the municipality seed's row of today's code (municipality_code = municipality_id, the code
-- still valid), and an aggregate region's name (EAK, EAKUO, EKGnn) from seed aggregate_regions.
-- Today's name for every year, not the name of the row's year: municipality_id is today's code and every
-- value is put on today's borders (int_indicator_values__harmonised), so a series keeps one name (1508
-- Ålesund stays "Ålesund" in 2019, when code 1507 published it). The name a code had while it was valid is
-- in stg_reference__municipalities.
with

municipalities as (
    select * from {{ ref('stg_reference__municipalities') }}
),

aggregate_regions as (
    select * from {{ ref('stg_reference__aggregate_regions') }}
),

current_codes as (
    select
        municipality_id,
        arg_max(municipality_name, valid_from_year) as municipality_name
    from municipalities
    where municipality_code = municipality_id
    group by municipality_id
)

select
    municipality_id,
    municipality_name,
    'municipality' as region_kind
from current_codes
union all
select
    region_code as municipality_id,
    region_name as municipality_name,
    region_kind
from aggregate_regions
