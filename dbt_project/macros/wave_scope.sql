{#
  Models that are incremental by survey wave (the large respondent-level tables) rebuild only the
  waves of the run: the orchestration passes --vars '{"waves": [2028]}' for a one-year run and
  --full-refresh for a run over every year. Rows of other waves stay as they are.
  After changing a codebook of an earlier wave or the pseudonym salt, run a full build (`make run`).
#}
{% macro only_waves_of_this_run(column) -%}
    {%- if is_incremental() and var('waves', none) is not none -%}
        {{ column }} in ({{ (var('waves') | list + [-1]) | join(', ') }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
