-- The cost index of every municipality, cost-key sector and year, with its origin: the real keys of seed
-- cost_keys_gronthefte (Grønt hefte's sector cost indices, per inhabitant, for the data years they are
-- written for) where one exists, otherwise seed cost_keys (DEMO in the committed file, per inhabitant of the
-- target group). cost_key_is_demo says which rows are synthetic, so every output that shows an index built
-- on one can say so.
with

real_keys as (
    select
        municipality_id,
        sector,
        data_year as year,
        cost_index,
        key_basis,
        gronthefte_year,
        source,
        false as cost_key_is_demo
    from {{ ref('cost_keys_gronthefte') }}
),

listed_keys as (
    select
        municipality_id,
        sector,
        year,
        cost_index,
        'per_target_group' as key_basis,
        cast(null as integer) as gronthefte_year,
        source,
        upper(trim(cast(source as varchar))) like 'DEMO%' as cost_key_is_demo
    from {{ ref('cost_keys') }}
)

select * from real_keys

union all

select listed_keys.*
from listed_keys
left join real_keys
    on
        listed_keys.municipality_id = real_keys.municipality_id
        and listed_keys.sector = real_keys.sector
        and listed_keys.year = real_keys.year
where real_keys.municipality_id is null
