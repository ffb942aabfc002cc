{#
  Models that are incremental by survey wave (the large respondent-level tables) rebuild only the
  waves of the run: for a one-year run the orchestration writes the run's years into the table
  build.scope of the working copy (orchestration/dbt_assets.py) and runs dbt without --full-refresh;
  a run over every year passes --full-refresh. Rows of other waves stay as they are. The scope is
  data, not a dbt var, so dbt's partial parsing survives from one run to the next.
  After changing a codebook of an earlier wave or the pseudonym salt, run a full build (`make run`).
#}
{% macro only_waves_of_this_run(column) -%}
    {%- if is_incremental() -%}
        {{ column }} in (select wave from build.scope)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
