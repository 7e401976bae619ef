{#-
    The comparison group named by var('comparison_group'), validated at compile time so that a typo fails
    loudly instead of silently giving an empty benchmark, and returned in its canonical form (the value of
    every mart's comparison_group column; pipeline.config.normalise_comparison_group writes the same):
    - 'ASSS' (any case): members from seed asss_membership;
    - 'EKGnn': that KOSTRA group code in each year's grouping (kostra_groupings), as before issue 14;
    - 'kostra:<grouping>:EKGnn': the group (grouping, code), only in the years of that grouping;
    - 'list:dddd,dddd,...' (or the bare codes): exactly those municipalities (today's codes), sorted;
    - 'similar' or 'similar:dddd': the municipality's (default: the focus) k nearest by structure
      (int_similarity__nearest) and itself, each year; canonical 'similar:dddd'.
-#}
{% macro comparison_group() -%}
    {%- set raw = var('comparison_group') -%}
    {%- if raw is not string and raw is iterable -%}
        {%- set raw = raw | join(',') -%}
    {%- endif -%}
    {%- set group = raw | string | trim -%}
    {%- set lower = group | lower -%}
    {%- set re = modules.re -%}
    {%- if lower == 'asss' -%}
        {{ return('ASSS') }}
    {%- elif re.match('^ekg[0-9]{2}$', lower) -%}
        {{ return(group | upper) }}
    {%- elif re.match('^kostra:[a-z0-9-]+:ekg[0-9]{2}$', lower) -%}
        {%- set parts = lower.split(':') -%}
        {{ return('kostra:' ~ parts[1] ~ ':' ~ (parts[2] | upper)) }}
    {%- elif re.match('^(list:)? *[0-9]{4}( *, *[0-9]{4})* *$', lower) -%}
        {%- set codes = [] -%}
        {%- for item in lower.replace('list:', '').split(',') -%}
            {%- if item | trim not in codes -%}{%- do codes.append(item | trim) -%}{%- endif -%}
        {%- endfor -%}
        {{ return('list:' ~ (codes | sort | join(','))) }}
    {%- elif lower == 'similar' -%}
        {{ return('similar:' ~ focus_municipality()) }}
    {%- elif re.match('^similar:[0-9]{4}$', lower) -%}
        {{ return(lower) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var comparison_group must be 'ASSS', a KOSTRA group ('EKG13' or 'kostra:2020:EKG12'), a list "
            ~ "of municipality codes ('list:0301,4601') or 'similar' ('similar:3201'), got '" ~ group ~ "'"
        ) }}
    {%- endif -%}
{%- endmacro %}


{#- The kind of the comparison group: 'asss', 'kostra', 'list' or 'similar'. -#}
{% macro comparison_group_kind() -%}
    {%- set group = comparison_group() -%}
    {%- if group == 'ASSS' -%}
        {{ return('asss') }}
    {%- elif group.startswith('list:') -%}
        {{ return('list') }}
    {%- elif group.startswith('similar:') -%}
        {{ return('similar') }}
    {%- else -%}
        {{ return('kostra') }}
    {%- endif -%}
{%- endmacro %}


{#- A SQL list literal of municipality ids from a var holding a list (or one comma-separated string). -#}
{% macro municipality_list_var(name) -%}
    {%- set raw = var(name) -%}
    {%- if raw is string -%}
        {%- set items = raw.split(',') -%}
    {%- else -%}
        {%- set items = raw -%}
    {%- endif -%}
    {%- set cleaned = [] -%}
    {%- for item in items -%}
        {%- set code = item | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}$', code) -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ " must list 4-digit municipality codes, got '" ~ code ~ "'"
            ) }}
        {%- endif -%}
        {%- do cleaned.append(code) -%}
    {%- endfor -%}
    {{ return(cleaned) }}
{%- endmacro %}


{#- The focus municipality as a validated 4-digit code. -#}
{% macro focus_municipality() -%}
    {%- set code = var('focus_municipality') | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}$', code) -%}
        {{ exceptions.raise_compiler_error(
            "var focus_municipality must be a 4-digit municipality code, got '" ~ code ~ "'"
        ) }}
    {%- endif -%}
    {{ return(code) }}
{%- endmacro %}


{#-
    Why a value of one year is not comparable with an earlier one (indicator_trend): another territory
    (border_basis differs: a reform, a split, or another KOSTRA grouping) or a definition break between them.
    NULL when they are comparable or the earlier year has no row.
-#}
{% macro comparability_note(current, earlier, definition_break) -%}
    case
        when {{ earlier }}.border_basis is null then null
        when {{ current }}.border_basis != {{ earlier }}.border_basis
            then
                case
                    when {{ current }}.border_basis like 'kostra_grouping:%'
                        then 'KOSTRA grouping changed (' || replace({{ earlier }}.border_basis, 'kostra_grouping:', '')
                        || ' → ' || replace({{ current }}.border_basis, 'kostra_grouping:', '')
                        || '): another group under the same code'
                    else 'other borders: ' || {{ earlier }}.border_basis || ' → ' || {{ current }}.border_basis
                        || coalesce(' (' || coalesce({{ current }}.harmonisation_note, {{ earlier }}.harmonisation_note) || ')', '')
                end
        when coalesce({{ definition_break }}, false) then 'definition break'
    end
{%- endmacro %}
