{#- A number as LM tables deliver it: "1 297", "1 297" (no-break space), "37750", "2,5" -> double;
    anything else (X, text, "nan", "1e3") -> null. Same rule as ingest.readers.admin_table.parse_number. -#}
{% macro parse_delivered_number(col) -%}
    case
        when regexp_full_match(replace(replace(replace(trim({{ col }}), ' ', ''), chr(160), ''), ',', '.'), '-?[0-9]+(\.[0-9]+)?')
            then cast(replace(replace(replace(trim({{ col }}), ' ', ''), chr(160), ''), ',', '.') as double)
    end
{%- endmacro %}
