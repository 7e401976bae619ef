{#-
    The comparison group named by var('comparison_group'), validated at compile time so that a typo fails
    loudly instead of silently giving an empty benchmark.
    'ASSS' → members from seed asss_membership; 'EKGnn' → members of that KOSTRA group from seed kostra_groups.
-#}
{% macro comparison_group() -%}
    {%- set group = var('comparison_group') | string | trim -%}
    {%- if group | upper == 'ASSS' -%}
        {{ return('ASSS') }}
    {%- elif modules.re.match('^EKG[0-9]{2}$', group | upper) -%}
        {{ return(group | upper) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var comparison_group must be 'ASSS' or a KOSTRA group code like 'EKG13', got '" ~ group ~ "'"
        ) }}
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
