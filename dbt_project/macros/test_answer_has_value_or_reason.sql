{#- Every answer has exactly one of: a harmonised value, a missing reason. -#}
{% test answer_has_value_or_reason(model) %}
select * from {{ model }}
where (harmonised_value is null) = (missing_reason is null)
{% endtest %}
