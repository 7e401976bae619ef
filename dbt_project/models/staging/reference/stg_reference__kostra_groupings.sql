-- The KOSTRA groupings (KLASS 112 versions) by data year: a group is (kostra_grouping, code).
with

source as (
    select * from {{ ref('kostra_groupings') }}
)

select
    kostra_grouping,
    klass_112_versions,
    cast(first_year as integer) as first_year,
    cast(last_year as integer) as last_year,
    numbering,
    source as reference_source
from source
