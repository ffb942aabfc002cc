{#- A suppressed cell (or withheld measure) publishes no number at all, and says why. -#}
{% test suppressed_cells_have_no_values(model) %}
select * from {{ model }}
where is_suppressed
  and (estimate is not null or ci_low is not null or ci_high is not null or n_band is not null
       or n_band_low is not null or n_band_high is not null or is_reliable is not null
       or suppression_reason is null)
{% endtest %}
