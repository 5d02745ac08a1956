{#- Generic test: no two rows share the same values in all of the given columns (a composite
    key). Columns are quoted, so mixed-case names landed by CDC work on every adapter. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = [] -%}
    {%- for column in combination_of_columns -%}
        {%- do columns.append(adapter.quote(column)) -%}
    {%- endfor %}
    select {{ columns | join(", ") }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(", ") }}
    having count(*) > 1
{% endtest %}
