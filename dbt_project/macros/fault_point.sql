{#- Fault injection for the failed-run tests (ingest/faults.py): with TRUST_FAULT_AT=dbt:model-error:<model>
    the model's pre-hook raises; otherwise it is a no-op. -#}
{% macro fault_point() -%}
    {%- if env_var('TRUST_FAULT_AT', '') == 'dbt:model-error:' ~ this.name -%}
        select error('injected fault: model {{ this.name }} failed (TRUST_FAULT_AT)')
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
