{#- The boundary set in force now: the one in seed reference/boundary_sets without an end date.
    Use it wherever a model reports on the current units, never the set's name as a string. -#}
{% macro current_boundary_set() -%}
    (select boundary_set from {{ ref('boundary_sets') }} where valid_to is null)
{%- endmacro %}
