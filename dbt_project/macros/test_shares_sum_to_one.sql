{#- The listed shares of a row add up to 1 (within rounding). -#}
{% test shares_sum_to_one(model, columns, tolerance=0.000001) %}
select * from {{ model }}
where abs(({{ columns | join(' + ') }}) - 1) > {{ tolerance }}
{% endtest %}
