-- The releases of `relation` (raw cells, as landed) whose cells came from more than one landing object: the
-- only releases that can hold two copies of a cell. A landing object is one JSON-stat cube, which holds each
-- cell once, and is loaded once (pipeline.landing.store); copies come from overlapping fetches of a release.
{% macro several_object_releases(relation) -%}
select
    table_id,
    release_updated
from {{ relation }}
group by table_id, release_updated
having count(distinct landing_sha256) > 1
{%- endmacro %}
