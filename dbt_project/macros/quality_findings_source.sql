{#-
    The quality stage's source table, created empty when a build file has none yet (a first build, or a
    dbt-only build in the tests), so source:quality+ always builds: no findings means every value is 'ok'.
    Its columns are defined here only; pipeline.quality.run replaces the rows, never the table.
-#}
{% macro create_quality_findings_source() %}
    create schema if not exists quality;
    create table if not exists quality.findings (
        run_id varchar,
        "check" varchar,
        severity varchar,
        sector varchar,
        table_id varchar,
        contents_code varchar,
        indicator_id varchar,
        region_code varchar,
        municipality_id varchar,
        year integer,
        vintage varchar,
        observed double,
        expected varchar,
        message varchar,
        cells varchar
    );
{% endmacro %}
