-- Service provision per capita for every current municipality (42-set) and year: the figures of
-- earlier boundary sets converted to the current units, over a stated population denominator.
-- Workbooks arrive one at a time: a year some reporting units have not delivered yet is a PARTIAL
-- year. Its delivered municipalities have their rows here, and every row says how many of the year's
-- units have delivered ("1 of 42 delivered"); a current unit made of several reporting units (a year
-- before a reform) has a row only once all of them have delivered (per capita of part of a unit would
-- be wrong). Comparisons that need every municipality use complete years only (is_complete_year).
with cell_values as (
    select * from {{ ref('int_admin__values_current_units') }}
    where source_column in ('total', 'expenditure_eur')
),

population as (
    select * from {{ ref('int_population__current_units') }}
),

municipalities as (
    select * from {{ ref('int_municipalities') }}
    where boundary_set = {{ current_boundary_set() }}
),

-- which reporting units delivered a workbook for a year, against the units of that year's boundary set
delivered as (
    select year, boundary_set, count(distinct municipality_code) as n_delivered
    from {{ ref('int_admin__provision') }}
    group by year, boundary_set
),

year_coverage as (
    select
        delivered.year,
        cast(delivered.n_delivered as integer) as municipalities_delivered,
        cast(boundary_sets.n_units as integer) as municipalities_expected,
        delivered.n_delivered >= boundary_sets.n_units as is_complete_year
    from delivered
    inner join {{ ref('boundary_sets') }} as boundary_sets using (boundary_set)
),

-- how many reporting units of each boundary set make up a current unit (the split Aglonas novads counts
-- for both of its successors)
split as (
    select allocation.old_atvk_code, successor.current_municipality_code
    from {{ ref('ref_split_allocation') }} as allocation
    inner join {{ ref('int_municipalities') }} as successor
        on allocation.new_atvk_code = successor.municipality_code and successor.boundary_set = 'post2021_43'
),

unit_sources as (
    select
        units.boundary_set,
        coalesce(units.current_municipality_code, split.current_municipality_code) as municipality_code,
        count(distinct units.municipality_code) as n_expected_sources
    from {{ ref('int_municipalities') }} as units
    left join split on units.current_municipality_code is null and units.municipality_code = split.old_atvk_code
    group by all
),

year_sets as (
    select distinct year, boundary_set from {{ ref('int_admin__provision') }}
),

figures as (
    select
        municipality_code,
        year,
        cast(sum(value) filter (where row_no like '13.%' and measure = 'count') as double) as recipients_mandatory_services,
        cast(sum(value) filter (where row_no like '13.%' and measure = 'expenditure_eur') as double) as expenditure_mandatory_services_eur,
        cast(sum(value) filter (where row_no = '11' and measure = 'count') as double) as day_care_recipients,
        cast(sum(value) filter (where row_no = '14' and measure = 'count') as double) as waiting_year_end,
        cast(sum(value) filter (where row_no = '15' and measure = 'count') as double) as social_work_specialists,
        bool_or(includes_split_allocation) as includes_split_allocation,
        max(n_source_units) as n_source_units
    from cell_values
    group by municipality_code, year
)

select
    figures.municipality_code,
    municipalities.municipality_name,
    figures.year,
    figures.recipients_mandatory_services,
    figures.expenditure_mandatory_services_eur,
    figures.day_care_recipients,
    figures.waiting_year_end,
    figures.social_work_specialists,
    cast(population.population as bigint) as population,
    population.population_basis,
    population.population_source,
    1000.0 * figures.recipients_mandatory_services / population.population as recipients_per_1000,
    figures.expenditure_mandatory_services_eur / population.population as expenditure_per_resident_eur,
    figures.expenditure_mandatory_services_eur / nullif(figures.recipients_mandatory_services, 0)
        as expenditure_per_recipient_eur,
    1000.0 * figures.waiting_year_end / population.population as waiting_per_1000,
    population.population / nullif(figures.social_work_specialists, 0) as residents_per_specialist,
    figures.includes_split_allocation,
    cast(figures.n_source_units as integer) as n_source_units,
    year_coverage.municipalities_delivered,
    year_coverage.municipalities_expected,
    year_coverage.is_complete_year,
    year_coverage.municipalities_delivered || ' no ' || year_coverage.municipalities_expected || ' iesniegti'
        as year_coverage_lv,
    year_coverage.municipalities_delivered || ' of ' || year_coverage.municipalities_expected || ' delivered'
        as year_coverage_en
from figures
inner join population
    on figures.municipality_code = population.municipality_code and figures.year = population.year
inner join year_coverage on figures.year = year_coverage.year
inner join year_sets on figures.year = year_sets.year
inner join unit_sources
    on year_sets.boundary_set = unit_sources.boundary_set and figures.municipality_code = unit_sources.municipality_code
left join municipalities on figures.municipality_code = municipalities.municipality_code
-- a current unit made of several reporting units only once every one of them has delivered
where figures.n_source_units >= unit_sources.n_expected_sources
