{#-
  Sums and means in a fixed order. DuckDB's parallel aggregation adds doubles in whatever order its threads
  meet the rows, so two builds of the same inputs would differ in the last bits of every mean and every
  grade built on one (issue 11: deterministic marts). An ordered aggregate sorts each group's rows first;
  the expression itself breaks ties between rows of equal key.
-#}
{% macro stable_sum(expr, order_by) -%}
    sum({{ expr }} order by {{ order_by }}, {{ expr }})
{%- endmacro %}

{#-
  The same guarantee for sums of published figures at the volume of the cells (millions of groups), where an
  ordered aggregate costs seconds: each value is rounded to 10 decimals (SSB publishes at most a few) and
  summed as a 128-bit decimal, which is exact and so does not depend on the order of the rows. Not for
  computed quantities (ratios, squares), whose digits below 1e-10 would be lost: use stable_sum there.
-#}
{% macro exact_sum(expr) -%}
    cast(sum(cast({{ expr }} as decimal(38, 10))) as double)
{%- endmacro %}

{% macro stable_avg(expr, order_by) -%}
    avg({{ expr }} order by {{ order_by }}, {{ expr }})
{%- endmacro %}

{#-
  The statistics of a comparison group (ASSS, a KOSTRA group, ...) over its members' values: mean (in a fixed
  order), min, max and how many members have a value, named <prefix>_mean, _min, _max, _member_count.
-#}
{% macro group_statistics(value, prefix, order_by='municipality_id') -%}
    {{ stable_avg(value, order_by) }} as {{ prefix }}_mean,
    min({{ value }}) as {{ prefix }}_min,
    max({{ value }}) as {{ prefix }}_max,
    count({{ value }}) as {{ prefix }}_member_count
{%- endmacro %}
