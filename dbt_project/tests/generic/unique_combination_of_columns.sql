{#-
    Fails with one row per key that occurs more than once. Written here because dbt packages (dbt_utils)
    cannot be installed offline; same name and argument as dbt_utils' test so the YAML reads familiarly.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

    {%- set columns_csv = combination_of_columns | join(', ') %}

    select
        {{ columns_csv }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1

{% endtest %}
