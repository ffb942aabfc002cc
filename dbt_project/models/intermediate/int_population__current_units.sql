-- Population denominator of each current unit (42-set) and year. Where CSP IRS031 gives the annual
-- average for every 2021 unit the current unit consists of (the 36 novadi, 2012-2024), that is used;
-- otherwise (state cities, years from 2025) the population at the reference date of
-- ref_municipalities_2021 (1 Jan 2026; 1 Jan 2025 for Madona and Varakļāni). Each row says which.
-- The years are those of the data (admin figures and the annual series), not a fixed range: a year
-- after the newest reference date (e.g. a 2030 extract) takes the newest population available and
-- says so (population_basis = 'newest_available').
with units_2021 as (
    select
        municipality_code,
        current_municipality_code,
        population as population_at_ref_date,
        population_source as ref_date_source
    from {{ ref('int_municipalities') }}
    where boundary_set = {{ boundary_set_valid_on('2021-07-01') }}
),

current_names as (
    select municipality_code, municipality_name, region_2009_2023 as region, nuts2016_code as region_code
    from {{ ref('int_municipalities') }}
    where boundary_set = {{ current_boundary_set() }}
),

ref_dates as (
    select atvk_code, population_ref_date from {{ ref('ref_municipalities_2021') }}
),

annual as (
    select * from {{ ref('ref_population_annual') }}
),

years as (
    select distinct year from {{ ref('int_admin__provision') }}
    union
    select distinct year from annual
),

components as (
    select
        units_2021.current_municipality_code,
        years.year,
        units_2021.municipality_code,
        units_2021.population_at_ref_date,
        units_2021.ref_date_source,
        year(ref_dates.population_ref_date) as ref_date_year,
        annual.population as annual_average
    from units_2021
    cross join years
    left join ref_dates on units_2021.municipality_code = ref_dates.atvk_code
    left join annual on units_2021.municipality_code = annual.atvk_code and years.year = annual.year
),

per_unit as (
    select
        current_municipality_code as municipality_code,
        year,
        count(annual_average) = count(*) as has_annual_average,
        -- the year is after the newest reference date of a component unit: no population of that year exists
        bool_or(year > ref_date_year) as after_reference_date,
        sum(annual_average) as annual_average,
        sum(population_at_ref_date) as population_at_ref_date,
        string_agg(distinct ref_date_source, '; ' order by ref_date_source) as ref_date_sources
    from components
    group by current_municipality_code, year
)

select
    per_unit.municipality_code,
    current_names.municipality_name,
    current_names.region_code,
    current_names.region,
    per_unit.year,
    case when has_annual_average then annual_average else population_at_ref_date end as population,
    case
        when has_annual_average then 'annual_average'
        when after_reference_date then 'newest_available'
        else 'reference_date'
    end as population_basis,
    case
        when has_annual_average then 'CSP IRS031, annual average population ' || year
        when after_reference_date
            then ref_date_sources || ' (newest available; the reference data has no population for ' || year || ')'
        else ref_date_sources || ' (no annual series for this unit and year)'
    end as population_source
from per_unit
left join current_names on per_unit.municipality_code = current_names.municipality_code
