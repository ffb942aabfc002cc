{#- Use the configured schema name as is (staging, intermediate, marts, reference),
    so analysts query marts.mart_client_satisfaction rather than main_marts.… -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
