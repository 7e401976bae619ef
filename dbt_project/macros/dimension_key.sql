{#
  Every non-region, non-time dimension of a cell in one comparable string, so a cell can be recognised across
  releases. Each part is coalesced to '' (concat_ws alone skips NULLs, so ('a', NULL, 'b') and ('a', 'b', NULL)
  would collide). `other_dimensions` is the text of the remaining dimensions; the default sorts the map's
  entries by key. The quality checks render this same macro with Jinja2 (pipeline.quality.workspace), so the
  key has one definition.
#}
{% macro dimension_key(other_dimensions="cast(list_sort(map_entries(other_dimensions)) as varchar)") -%}
concat_ws(
    '|',
    coalesce(contents_code, ''),
    coalesce(funksjon, ''),
    coalesce(art, ''),
    coalesce(regnskapsomfang, ''),
    coalesce(alder, ''),
    coalesce(kjonn, ''),
    coalesce({{ other_dimensions }}, '')
)
{%- endmacro %}
