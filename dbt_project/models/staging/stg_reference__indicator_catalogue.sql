-- The indicator catalogue, typed. An empty dimension filter means "no filter"; funksjon may list several
-- functions separated by ';' whose values are summed. Ratio rows name a numerator and a denominator row;
-- they may also name the table where SSB publishes the ratio itself.
with

source as (
    select * from {{ ref('indicator_catalogue') }}
),

typed as (
    select
        trim(cast(indicator_id as varchar)) as indicator_id,
        lower(trim(sector)) as sector,
        label_nb,
        label_en,
        lpad(nullif(trim(cast(table_id as varchar)), ''), 5, '0') as table_id,
        nullif(trim(cast(contents_code as varchar)), '') as contents_code,
        nullif(replace(cast(funksjon as varchar), ' ', ''), '') as funksjon,
        nullif(trim(cast(art as varchar)), '') as art,
        nullif(trim(cast(alder as varchar)), '') as alder,
        nullif(trim(cast(regnskapsomfang as varchar)), '') as regnskapsomfang,
        unit,
        lower(trim(polarity)) as polarity,
        lower(trim(kind)) as kind,
        nullif(trim(cast(numerator_id as varchar)), '') as numerator_id,
        nullif(trim(cast(denominator_id as varchar)), '') as denominator_id,
        cast(scale as double) as scale,
        coalesce(lower(trim(cast(verified as varchar))) in ('true', 't', '1', 'yes', 'y', 'ja'), false) as is_verified,
        note
    from source
)

select
    *,
    list_distinct(string_split(funksjon, ';')) as funksjon_codes,
    numerator_id is not null and denominator_id is not null as is_ratio,
    -- SSB publishes the row's own figure: it is matched to cells. A ratio that is not published is computed
    -- from its numerator and denominator rows.
    contents_code is not null and table_id is not null as is_published
from typed
