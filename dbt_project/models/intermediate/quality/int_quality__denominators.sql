-- denominator_zero: a ratio's denominator (pupils, inhabitants, users…) must be above 0 where the ratio is
-- meant to exist. One finding per denominator, municipality and year with a published value ≤ 0, naming the
-- ratios it breaks: ERROR when a numerator is not 0 (a ratio that should exist cannot be computed), WARNING
-- when the numerator is 0 too (nothing to measure). In marts.dq_findings' columns.
with

indicator_cells as (
    select * from {{ ref('int_cells__catalogue_matched') }}
    {{ newest_publication('indicator_id, region_code, year') }}
),

indicators as (
    select * from {{ ref('stg_reference__indicator_catalogue') }}
),

ratios as (
    select
        indicator_id as ratio_id,
        numerator_id,
        denominator_id
    from indicators
    where numerator_id is not null and denominator_id is not null
),

zero_denominators as (
    select
        denominators.indicator_id,
        denominators.table_id,
        denominators.contents_code,
        denominators.region_code,
        denominators.year,
        denominators.vintage,
        denominators.value,
        list_sort(list_distinct(list(ratios.ratio_id))) as ratio_ids,
        max(abs(numerators.value)) as numerator_abs
    from ratios
    inner join indicator_cells as denominators on ratios.denominator_id = denominators.indicator_id
    left join indicator_cells as numerators
        on
            ratios.numerator_id = numerators.indicator_id
            and denominators.region_code = numerators.region_code
            and denominators.year = numerators.year
    where
        denominators.value <= 0
        and denominators.status is null
        and regexp_full_match(denominators.region_code, '[0-9]{4}')
    group by
        denominators.indicator_id,
        denominators.table_id,
        denominators.contents_code,
        denominators.region_code,
        denominators.year,
        denominators.vintage,
        denominators.value
)

select
    'denominator_zero' as check_name,
    case when coalesce(zero_denominators.numerator_abs, 0) > 0 then 'ERROR' else 'WARNING' end as severity,
    coalesce(indicators.sector, 'annet') as sector,
    zero_denominators.table_id,
    zero_denominators.contents_code,
    zero_denominators.indicator_id,
    zero_denominators.region_code,
    municipalities.municipality_id,
    zero_denominators.year,
    zero_denominators.vintage,
    zero_denominators.value as observed,
    '> 0' as expected_range,
    format(
        'Nevneren {} er {}, så {} kan ikke beregnes{}',
        zero_denominators.indicator_id,
        zero_denominators.value,
        array_to_string(zero_denominators.ratio_ids, ', '),
        case when coalesce(zero_denominators.numerator_abs, 0) > 0 then ' selv om telleren ikke er 0.' else '.' end
    ) as message,
    cast(json_object(
        zero_denominators.indicator_id, round(zero_denominators.value, 3),
        'største teller', round(zero_denominators.numerator_abs, 3)
    ) as varchar) as cells
from zero_denominators
left join indicators on zero_denominators.indicator_id = indicators.indicator_id
left join {{ ref('stg_reference__municipalities') }} as municipalities
    on
        zero_denominators.region_code = municipalities.municipality_code
        and zero_denominators.year between coalesce(municipalities.valid_from_year, 0)
        and coalesce(municipalities.valid_to_year, 9999)
