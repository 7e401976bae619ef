{#
  The codes a catalogue filter cell selects, as a list: '202;213' -> ['202', '213'], and single-year ranges
  '080..105+' -> ['080', '081', ..., '104', '105+'] (zero-padded to the width of the start, the open top code
  kept), sorted (the same list every run: incremental models fingerprint what they read). NULL or '' -> NULL
  (no filter). pipeline.catalogue.split_codes reads the seed by the same rule, and
  tests/test_catalogue.py checks that both give the same lists for every row.
#}
{% macro catalogue_codes(column) -%}
case when nullif(trim({{ column }}), '') is not null then (
    select list_sort(list_distinct(flatten(list(part_codes.codes))))
    from (
        select
            case
                when contains(parts.part, '..') then (
                    select
                        list(
                            lpad(cast(ages.age as varchar), cast(length(split_part(parts.part, '..', 1)) as integer), '0')
                            || case
                                when
                                    ends_with(parts.part, '+')
                                    and ages.age = try_cast(rtrim(split_part(parts.part, '..', 2), '+') as integer)
                                    then '+'
                                else ''
                            end
                        )
                    from range(
                        try_cast(split_part(parts.part, '..', 1) as integer),
                        try_cast(rtrim(split_part(parts.part, '..', 2), '+') as integer) + 1
                    ) as ages (age)
                )
                else [parts.part]
            end as codes
        from (select unnest(string_split(replace({{ column }}, ' ', ''), ';')) as part) as parts
        where parts.part <> ''
    ) as part_codes
) end
{%- endmacro %}
