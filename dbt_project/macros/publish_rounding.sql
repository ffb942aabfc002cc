{#- Rounding of published figures to `d` decimals (seed disclosure_rules.publish_decimals). The value
    is first snapped to 9 decimals (interval ends: 6 decimals of the scaled value), because DuckDB's
    parallel sums differ in the last bits between two builds of the same data, and a share of exactly
    3/40 must not come out as 0.07 in one build and 0.08 in the next (two releases that differ can be
    differenced). Interval ends are rounded outwards. -#}
{% macro publish_round(x, d) -%}
    round(round({{ x }}, 9), {{ d }})
{%- endmacro %}

{% macro publish_floor(x, d) -%}
    floor(round(({{ x }}) * pow(10, {{ d }}), 6)) / pow(10, {{ d }})
{%- endmacro %}

{% macro publish_ceil(x, d) -%}
    ceil(round(({{ x }}) * pow(10, {{ d }}), 6)) / pow(10, {{ d }})
{%- endmacro %}
