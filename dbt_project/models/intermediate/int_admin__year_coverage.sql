-- Each admin report year: how many of its boundary set's reporting units have delivered their LM
-- workbook. Workbooks arrive one at a time over weeks; a year not every unit has delivered yet is a
-- partial year ("1 of 42 delivered"): its figures are published for the units that delivered, and what
-- needs every municipality (totals for Latvia, the provision_by_year gate) uses complete years only.
with delivered as (
    select year, boundary_set, count(distinct municipality_code) as n_delivered
    from {{ ref('int_admin__provision') }}
    group by year, boundary_set
),

boundary_sets as (
    select boundary_set, n_units from {{ ref('boundary_sets') }}
)

select
    delivered.year,
    delivered.boundary_set,
    cast(delivered.n_delivered as integer) as municipalities_delivered,
    cast(boundary_sets.n_units as integer) as municipalities_expected,
    delivered.n_delivered >= boundary_sets.n_units as is_complete_year,
    delivered.n_delivered || ' no ' || boundary_sets.n_units || ' iesniegti' as year_coverage_lv,
    delivered.n_delivered || ' of ' || boundary_sets.n_units || ' delivered' as year_coverage_en
from delivered
inner join boundary_sets on delivered.boundary_set = boundary_sets.boundary_set
