-- Municipality codes 2015– with the current municipality (municipality_id) whose series each belongs to.
with

source as (
    select * from {{ ref('municipalities') }}
)

select
    lpad(trim(cast(municipality_code as varchar)), 4, '0') as municipality_code,
    name as municipality_name,
    cast(valid_from_year as integer) as valid_from_year,
    cast(valid_to_year as integer) as valid_to_year,
    lpad(nullif(trim(cast(successor_code as varchar)), ''), 4, '0') as successor_code,
    lpad(trim(cast(municipality_id as varchar)), 4, '0') as municipality_id,
    change_note,
    source as reference_source
from source
