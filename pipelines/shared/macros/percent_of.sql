{#- Share of `part` in `whole` as a percentage, rounded; null (not an error) when whole is 0. -#}
{% macro percent_of(part, whole, precision=1) -%}
    round(100.0 * ({{ part }}) / nullif({{ whole }}, 0), {{ precision }})
{%- endmacro %}
