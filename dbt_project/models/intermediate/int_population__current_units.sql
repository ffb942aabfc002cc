-- Population denominator of each current unit (42-set) and year. Where CSP IRS031 gives the annual
-- average for every 2021 unit the current unit consists of (the 36 novadi, 2012-2024), that is used;
-- otherwise (state cities, years from 2025) the population at the reference date of
-- ref_municipalities_2021 (1 Jan 2026; 1 Jan 2025 for Madona and Varakļāni). Each row says which.
with units_2021 as (
    select
        municipality_code,
        current_municipality_code,
        population as population_at_ref_date,
        population_source as ref_date_source
    from {{ ref('dim_municipality') }}
    where boundary_set = 'post2021_43'
),

years as (
    select range::integer as year from range(2009, 2031)
),

annual as (
    select * from {{ ref('ref_population_annual') }}
),

components as (
    select
        units_2021.current_municipality_code,
        years.year,
        units_2021.municipality_code,
        units_2021.population_at_ref_date,
        units_2021.ref_date_source,
        annual.population as annual_average
    from units_2021
    cross join years
    left join annual on units_2021.municipality_code = annual.atvk_code and years.year = annual.year
)

select
    current_municipality_code as municipality_code,
    year,
    case
        when count(annual_average) = count(*) then sum(annual_average)
        else sum(population_at_ref_date)
    end as population,
    case when count(annual_average) = count(*) then 'annual_average' else 'reference_date' end
        as population_basis,
    case
        when count(annual_average) = count(*) then 'CSP IRS031, annual average population ' || year
        else string_agg(distinct ref_date_source, '; ' order by ref_date_source) || ' (no annual series for this unit and year)'
    end as population_source
from components
group by current_municipality_code, year
