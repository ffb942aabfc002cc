{#- Pseudonymised respondent key: stable within a warehouse, not reversible without the salt. -#}
{% macro respondent_key(wave_col, source_id_col) -%}
    left(sha256(cast({{ wave_col }} as varchar) || ':' || {{ source_id_col }} || ':' || '{{ var("pseudonym_salt") }}'), 24)
{%- endmacro %}
