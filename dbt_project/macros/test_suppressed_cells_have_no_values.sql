{#- A suppressed cell publishes no number at all. -#}
{% test suppressed_cells_have_no_values(model) %}
select * from {{ model }}
where is_suppressed
  and (estimate is not null or ci_low is not null or ci_high is not null or n_unweighted is not null
       or n_effective is not null or design_effect is not null or suppression_reason is null)
{% endtest %}
