{#- No dbt packages here: the two generic tests we need beyond dbt's own. -#}

{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{% test exactly_one_row(model) %}
    select row_count
    from (select count(*) as row_count from {{ model }}) as counted
    where row_count <> 1
{% endtest %}
