-- Service provision per capita for every current municipality (42-set) and year: the figures of
-- earlier boundary sets converted to the current units, over a stated population denominator.
with cell_values as (
    select * from {{ ref('int_admin__values_current_units') }}
    where source_column in ('total', 'expenditure_eur')
),

population as (
    select * from {{ ref('int_population__current_units') }}
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
    population.municipality_name,
    population.region_code,
    population.region,
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
    cast(figures.n_source_units as integer) as n_source_units
from figures
inner join population
    on figures.municipality_code = population.municipality_code and figures.year = population.year

