{#-
    Incremental by release: the models that read cells (stg_ssb__cells, int_cells__catalogue_matched,
    revisions, …) add only what a new release changed, and are rebuilt whole when anything else they read
    changed. docs/architecture.md, "Incremental builds", tells the whole story.

    Each such model is materialized 'incremental' with the delete+insert strategy on its partition key and
    keeps two facts in its table comment (a JSON object, written by the post-hook incremental_save_state()):
      fingerprint  the md5 of the model's own SQL, of the contents (or, for an incremental model, the
                   fingerprint) of every relation named in meta.incremental_inputs, and of the vars named in
                   meta.incremental_vars;
      watermark    the newest built_at of meta.incremental_source it has consumed.
    A model whose stored fingerprint differs from today's is rebuilt whole (should_full_refresh below), so
    a new catalogue row, a changed seed, a changed var or a change of the model's SQL never leaves old rows
    behind. A macro's change is not seen: run `dbt build --full-refresh` after changing one that such a
    model calls (dimension_key, catalogue_codes).
-#}

{#- dbt's own rule (the full_refresh config, else --full-refresh), and for an incremental model whose
    inputs changed since it was built: true. Overrides the global macro of the same name, which every
    materialization and is_incremental() call. -#}
{% macro should_full_refresh() %}
    {%- set config_full_refresh = config.get('full_refresh') -%}
    {%- if config_full_refresh is none -%}
        {%- set config_full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if not config_full_refresh and incremental_is_tracked() -%}
        {%- set state = incremental_state() -%}
        {%- if state is not none and state.get('fingerprint') != incremental_fingerprint() -%}
            {%- set config_full_refresh = true -%}
        {%- endif -%}
    {%- endif -%}
    {%- do return(config_full_refresh) -%}
{% endmacro %}


{#- An incremental model of this project that keeps its state (meta.incremental_source or _inputs set). -#}
{% macro incremental_is_tracked() %}
    {%- if not execute or model is not mapping or model.get('resource_type') != 'model' -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- set meta = model.get('config', {}).get('meta', {}) or {} -%}
    {%- do return(
        model.get('config', {}).get('materialized') == 'incremental'
        and ('incremental_source' in meta or 'incremental_inputs' in meta)
    ) -%}
{% endmacro %}


{#- The comment of a relation (default: this model's table) parsed as the state object, or none. -#}
{% macro incremental_state(relation=none) %}
    {%- set relation = relation or this -%}
    {%- if not execute -%}{%- do return(none) -%}{%- endif -%}
    {%- set sql -%}
        select comment from duckdb_tables()
        where database_name = '{{ relation.database }}' and schema_name = '{{ relation.schema }}'
          and table_name = '{{ relation.identifier }}'
    {%- endset -%}
    {%- set rows = run_query(sql) -%}
    {%- if rows is none or rows | length == 0 or not rows[0][0] or not rows[0][0].startswith('{') -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(fromjson(rows[0][0])) -%}
{% endmacro %}


{#- The md5 of what this model was built from besides the rows it adds (see the top of this file). Computed
    once per model and build and kept on the node: is_incremental() asks for it each time a macro calls it,
    and the post-hook again (25 hashes of the reference inputs for int_indicator_values__harmonised), while
    nothing it reads changes as the model builds: its inputs were built before it. -#}
{% macro incremental_fingerprint() %}
    {%- if model.get('kostra_incremental_fingerprint') -%}
        {%- do return(model['kostra_incremental_fingerprint']) -%}
    {%- endif -%}
    {%- set meta = model.config.get('meta', {}) or {} -%}
    {%- set parts = [model.raw_code] -%}
    {%- if meta.get('incremental_source') -%}
        {#- A source rebuilt whole (its SQL changed) may have dropped rows: rebuild after it. -#}
        {%- set source_state = incremental_state(ref(meta['incremental_source'])) or {} -%}
        {%- do parts.append('source=' ~ source_state.get('fingerprint', '')) -%}
    {%- endif -%}
    {%- for name in meta.get('incremental_inputs', []) -%}
        {%- set relation = ref(name) -%}
        {%- set upstream = incremental_state(relation) -%}
        {%- if upstream is not none and upstream.get('fingerprint') -%}
            {#- An incremental input changes by its new rows, which this model reads by the watermark. -#}
            {%- do parts.append(name ~ '=' ~ upstream['fingerprint']) -%}
        {%- else -%}
            {%- set rows = run_query(
                "select md5(coalesce(string_agg(row_md5, ',' order by row_md5), '')) from "
                ~ "(select md5(cast(t as varchar)) as row_md5 from " ~ relation ~ " as t)"
            ) -%}
            {%- do parts.append(name ~ '=' ~ rows[0][0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in meta.get('incremental_vars', []) -%}
        {%- do parts.append('var ' ~ name ~ '=' ~ tojson(var(name))) -%}
    {%- endfor -%}
    {%- set fingerprint = local_md5(parts | join('\n')) -%}
    {%- do model.update({'kostra_incremental_fingerprint': fingerprint}) -%}
    {%- do return(fingerprint) -%}
{% endmacro %}


{#- The moment this dbt run started, as the built_at of every row it writes. -#}
{% macro incremental_built_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}


{#- The newest built_at of meta.incremental_source this model has consumed, as a SQL literal; a timestamp
    before any build when the model has none (it then reads every row). -#}
{% macro incremental_watermark() -%}
    {%- set state = incremental_state() if is_incremental() else none -%}
    {%- if state is not none and state.get('watermark') -%}
        cast('{{ state["watermark"] }}' as timestamp)
    {%- else -%}
        cast('1900-01-01' as timestamp)
    {%- endif -%}
{%- endmacro %}


{#- Post-hook of every incremental model here: store the fingerprint and the watermark in the comment. -#}
{% macro incremental_save_state() %}
    {%- if not execute -%}{%- do return('') -%}{%- endif -%}
    {%- set meta = model.config.get('meta', {}) or {} -%}
    {%- set state = {'fingerprint': incremental_fingerprint()} -%}
    {%- if meta.get('incremental_source') -%}
        {%- set rows = run_query(
            "select cast(max(built_at) as varchar) from " ~ ref(meta['incremental_source'])
        ) -%}
        {%- do state.update({'watermark': rows[0][0]}) -%}
    {%- endif -%}
    comment on table {{ this }} is '{{ tojson(state) | replace("'", "''") }}'
{% endmacro %}


{#- A filter on the data years this run must rebuild: the years of the rows of meta.incremental_source built
    since this model's watermark, as a literal list (so the filter reaches the scan), or true when the model
    is built whole. For the models keyed on year: every row of a year is rebuilt from every release of it. -#}
{% macro incremental_years(column='year') -%}
    {%- if is_incremental() -%}
        {%- set meta = model.config.get('meta', {}) or {} -%}
        {%- set rows = run_query(
            "select distinct cast(year as integer) from " ~ ref(meta['incremental_source'])
            ~ " where built_at > " ~ incremental_watermark() ~ " and year is not null order by 1"
        ) -%}
        {%- set years = rows.columns[0].values() | map('int') | map('string') | list -%}
        {{ column }} in ({{ years | join(', ') if years else 'null' }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- delete+insert keyed on a partition (table and release, table and period, year), not on a row: dbt-duckdb
    deletes a list key with `delete … using <new rows> where key = key`, which pairs every old row of a
    partition with every new one (a year of 100,000 rows is 10^10 pairs). The same rows go, matched by a
    semi-join on the distinct keys of the new rows, as dbt's default strategy does. -#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- if unique_key -%}
        {%- set keys = [unique_key] if unique_key is string else unique_key -%}
        delete from {{ target }}
        where ({{ keys | join(', ') }}) in (
            select distinct {{ keys | join(', ') }}
            from {{ source }}
        )
        {%- for predicate in incremental_predicates or [] %}
            and {{ predicate }}
        {%- endfor -%};
    {%- endif %}

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}


{#- The WHERE clause of a model incremental by table and period: in an incremental run, only the rows of the
    (table_id, period) pairs that `source` built since this model's watermark, every release of them; nothing
    on a full build. -#}
{% macro incremental_table_periods(source) -%}
    {%- if is_incremental() -%}
        where (table_id, period) in (
            select distinct (table_id, period) from {{ source }}
            where built_at > {{ incremental_watermark() }}
        )
    {%- endif -%}
{%- endmacro %}
