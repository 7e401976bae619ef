{#-
  One owner of the grading formula (int_barometer__key_figure_grades): a signed distance from the average
  (+1 at the favourable anchor, −1 at the unfavourable one) as a grade on [min_grade, max_grade], oriented by
  polarity. Reads the columns average_grade, min_grade, max_grade and polarity of the calling query.
-#}
{% macro barometer_grade(distance) -%}
    least(
        max_grade,
        greatest(
            min_grade,
            average_grade
            + (max_grade - average_grade)
            * case when polarity = 'lower_better' then -{{ distance }} else {{ distance }} end
        )
    )
{%- endmacro %}
