{#- A number as LM tables deliver it: "1 297", "1 297" (no-break space), "37750", "2,5" -> double; else null. -#}
{% macro parse_delivered_number(col) -%}
    try_cast(replace(replace(replace(trim({{ col }}), ' ', ''), chr(160), ''), ',', '.') as double)
{%- endmacro %}
