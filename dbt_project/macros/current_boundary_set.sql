{#- The boundary set in force now: the one in seed reference/boundary_sets without an end date.
    Use it wherever a model reports on the current units, never the set's name as a string. -#}
{% macro current_boundary_set() -%}
    (select boundary_set from {{ ref('boundary_sets') }} where valid_to is null)
{%- endmacro %}

{#- The boundary set in force on a date (a reform's first day, e.g. '2021-07-01' for the units the
    2009->2021 crosswalk leads to): from seed reference/boundary_sets, never the set's name. -#}
{% macro boundary_set_valid_on(on_date) -%}
    (select boundary_set from {{ ref('boundary_sets') }}
     where valid_from <= date '{{ on_date }}' and (valid_to is null or valid_to >= date '{{ on_date }}'))
{%- endmacro %}
