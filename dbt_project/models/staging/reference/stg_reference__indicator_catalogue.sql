-- The indicators of the catalogue, one row each, typed. Attributes are the same on every source row of an
-- indicator (pipeline.catalogue validates that); table, code and filters are those of the newest source.
-- Published indicators are matched to cells; ratio indicators name a numerator and a denominator row, which
-- recombine merged municipality codes and weight group means; a ratio that is not published (derived) is
-- computed as scale * numerator / denominator.
with

source as (
    select * from {{ ref('indicator_catalogue') }}
),

sources as (
    select * from {{ ref('stg_reference__indicator_sources') }}
),

attributes as (
    select distinct
        trim(cast(indicator_id as varchar)) as indicator_id,
        lower(trim(sector)) as sector,
        label_nb,
        label_en,
        unit,
        lower(trim(polarity)) as polarity,
        lower(trim(kind)) as kind,
        nullif(trim(cast(numerator_id as varchar)), '') as numerator_id,
        nullif(trim(cast(denominator_id as varchar)), '') as denominator_id,
        cast(scale as double) as scale,
        -- A ratio is weighted by its denominator (pipeline.reference.catalogue requires weight_id to be it).
        coalesce(nullif(trim(cast(weight_id as varchar)), ''), nullif(trim(cast(denominator_id as varchar)), ''))
            as weight_id
    from source
),

newest_source as (
    select * from sources
    qualify row_number() over (partition by indicator_id order by coalesce(first_year, 0) desc) = 1
),

evidence as (
    select
        indicator_id,
        count(*) as source_count,
        bool_or(is_published) as is_published,
        case
            when bool_and(status = 'derived') then 'derived'
            when bool_and(status in ('confirmed', 'confirmed_live')) then 'confirmed'
            else 'unverified'
        end as evidence_status,
        string_agg(distinct series_break, '; ' order by series_break) as series_breaks
    from sources
    group by indicator_id
),

notes as (
    select
        trim(cast(indicator_id as varchar)) as indicator_id,
        string_agg(distinct nullif(note, ''), '; ' order by nullif(note, '')) as note
    from source
    group by trim(cast(indicator_id as varchar))
)

select
    attributes.indicator_id,
    attributes.sector,
    attributes.label_nb,
    attributes.label_en,
    newest_source.table_id,
    newest_source.contents_code,
    newest_source.funksjon,
    newest_source.art,
    newest_source.alder,
    newest_source.regnskapsomfang,
    attributes.unit,
    attributes.polarity,
    attributes.kind,
    attributes.numerator_id,
    attributes.denominator_id,
    attributes.scale,
    attributes.weight_id,
    evidence.evidence_status,
    evidence.source_count,
    evidence.series_breaks,
    notes.note,
    newest_source.funksjon_codes,
    attributes.numerator_id is not null and attributes.denominator_id is not null as is_ratio,
    evidence.is_published
from attributes
inner join newest_source on attributes.indicator_id = newest_source.indicator_id
inner join evidence on attributes.indicator_id = evidence.indicator_id
left join notes on attributes.indicator_id = notes.indicator_id
