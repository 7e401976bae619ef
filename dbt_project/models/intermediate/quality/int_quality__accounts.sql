-- Accounting identities on the newest publication of 12367 (net operating expenditure, KOSbelop0000), one
-- finding per broken identity, in marts.dq_findings' columns:
--   net_le_gross: net (art AGD2) above gross (AGD10) means negative revenue;
--   function_total_equals_sum: a published function group (seed function_totals) must equal the sum of
--   its functions, when every function is published.
-- The tolerance (NOK 1000) is KOSTRA_DQ_ACCOUNTS_TOLERANCE, per function summed.
{% set tolerance = env_var('KOSTRA_DQ_ACCOUNTS_TOLERANCE', '1.0') | float %}
with

accounts as (
    select
        region_code,
        year,
        vintage,
        funksjon,
        art,
        regnskapsomfang,
        value
    from {{ ref('stg_ssb__cells') }}
    where
        table_id = '12367'
        and contents_code = 'KOSbelop0000'
        and status is null
        and regexp_full_match(region_code, '[0-9]{4}')
    {{ newest_publication('table_id, region_code, period, dimension_key') }}
),

totals as (
    select * from {{ ref('function_totals') }}
),

-- The sector of a function (seed sector_functions), and of a group through its functions.
function_sectors as (
    select
        unnest(string_split(cast(funksjoner as varchar), ';')) as funksjon,
        sector
    from {{ ref('sector_functions') }}
),

group_sectors as (
    select distinct
        totals.total_function as funksjon,
        function_sectors.sector
    from totals
    inner join function_sectors on totals.function = function_sectors.funksjon
),

sectors as (
    select * from function_sectors
    union all
    select * from group_sectors
),

net_and_gross as (
    select
        region_code,
        year,
        funksjon,
        regnskapsomfang,
        any_value(vintage) as vintage,
        max(value) filter (where art = 'AGD2') as net,
        max(value) filter (where art = 'AGD10') as gross
    from accounts
    group by region_code, year, funksjon, regnskapsomfang
),

net_above_gross as (
    select
        'net_le_gross' as check_name,
        region_code,
        year,
        vintage,
        funksjon,
        net as observed,
        format('≤ {} (brutto)', gross) as expected_range,
        format(
            'Netto driftsutgifter på funksjon {} ({}) er høyere enn brutto ({}), regnskapsomfang {}.',
            funksjon, net, gross, regnskapsomfang
        ) as message,
        json_object('netto (AGD2)', round(net, 3), 'brutto (AGD10)', round(gross, 3)) as cells
    from net_and_gross
    where net > gross + {{ tolerance }} and gross >= 0
),

group_sums as (
    select
        accounts.region_code,
        accounts.year,
        accounts.art,
        accounts.regnskapsomfang,
        totals.total_function,
        any_value(accounts.vintage) as vintage,
        {{ stable_sum('accounts.value', 'accounts.funksjon') }} as parts,
        count(*) as parts_found,
        string_agg(totals.function, ', ' order by totals.function) as part_list
    from accounts
    inner join totals on accounts.funksjon = totals.function
    group by accounts.region_code, accounts.year, accounts.art, accounts.regnskapsomfang, totals.total_function
),

group_sizes as (
    select
        total_function,
        count(*) as parts_expected
    from totals
    group by total_function
),

total_not_sum as (
    select
        'function_total_equals_sum' as check_name,
        group_sums.region_code,
        group_sums.year,
        group_sums.vintage,
        group_sums.total_function as funksjon,
        published.value as observed,
        format('= {} (sum {})', group_sums.parts, replace(group_sums.part_list, ', ', ' + ')) as expected_range,
        format(
            '{} ({}) er {}, men summen av funksjon {} er {} (avvik {}).',
            group_sums.total_function, group_sums.art, published.value, group_sums.part_list, group_sums.parts,
            published.value - group_sums.parts
        ) as message,
        json_object(group_sums.total_function, round(published.value, 3), 'sum funksjoner', round(group_sums.parts, 3))
            as cells
    from group_sums
    inner join group_sizes on group_sums.total_function = group_sizes.total_function
    inner join accounts as published
        on
            group_sums.region_code = published.region_code
            and group_sums.year = published.year
            and group_sums.art = published.art
            and group_sums.regnskapsomfang = published.regnskapsomfang
            and group_sums.total_function = published.funksjon
    where
        group_sums.parts_found = group_sizes.parts_expected
        and abs(published.value - group_sums.parts) > {{ tolerance }} * group_sizes.parts_expected
),

broken as (
    select * from net_above_gross
    union all
    select * from total_not_sum
)

select
    broken.check_name,
    'ERROR' as severity,
    coalesce(sectors.sector, 'regnskap') as sector,
    '12367' as table_id,
    'KOSbelop0000' as contents_code,
    cast(null as varchar) as indicator_id,
    broken.region_code,
    municipalities.municipality_id,
    broken.year,
    broken.vintage,
    broken.observed,
    broken.expected_range,
    broken.message,
    cast(broken.cells as varchar) as cells
from broken
left join sectors on broken.funksjon = sectors.funksjon
left join {{ ref('stg_reference__municipalities') }} as municipalities
    on
        broken.region_code = municipalities.municipality_code
        and broken.year between coalesce(municipalities.valid_from_year, 0)
        and coalesce(municipalities.valid_to_year, 9999)
