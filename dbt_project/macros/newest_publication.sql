{#-
    Keep the newest publication of each cell (what the statbank shows today: June figures where there are
    any) among rows that share ``partition_by``. A QUALIFY clause: place it after the WHERE of a select.
-#}
{% macro newest_publication(partition_by) -%}
    qualify row_number() over (partition by {{ partition_by }} order by release_updated desc) = 1
{%- endmacro %}
