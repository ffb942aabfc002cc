-- One row per respondent and wave, pseudonymised, with geography mapped to the current units.
with respondents as (
    select * from {{ ref('int_survey__respondents') }}
),

waves as (
    select * from {{ ref('stg_survey__waves') }}
),

weights as (
    select * from {{ ref('int_survey__weights') }}
),

municipalities as (
    select * from {{ ref('int_municipalities') }}
),

respondent_keys as (
    select * from {{ ref('int_survey__respondent_keys') }}
),

-- a local survey (codebook coverage.municipalities) speaks for a region only where it planned every unit
planned_regions as (
    select
        waves.wave_year,
        units.region_2009_2023,
        bool_and(list_contains(string_split(waves.planned_municipalities, ','), units.municipality_code))
            as region_planned_whole
    from waves
    inner join municipalities as units on waves.boundary_set = units.boundary_set
    where waves.coverage_plan = 'municipalities'
    group by all
)

select
    respondent_keys.respondent_key,
    respondents.wave_year,
    respondents.municipality_code_delivered,
    waves.boundary_set as municipality_boundary_set,
    municipalities.municipality_name as municipality_name_delivered,
    municipalities.municipality_code_2021,
    municipalities.current_municipality_code,
    municipalities.is_split_territory,
    municipalities.region_2009_2023,
    respondents.sex,
    respondents.age_years,
    case
        when respondents.age_years < 25 then '18-24'
        when respondents.age_years < 35 then '25-34'
        when respondents.age_years < 45 then '35-44'
        when respondents.age_years < 55 then '45-54'
        when respondents.age_years < 65 then '55-64'
        when respondents.age_years < 75 then '65-74'
        else '75+'
    end as age_band,
    respondents.is_client,
    cast(weights.weight as decimal(18, 12)) as weight,
    weights.weight_source,
    respondents.weight_delivered,
    waves.has_delivered_weight,
    -- which figures the respondent's wave can give (its fieldwork plan, checked by the loader): a national plan
    -- for Latvia and every region; a local survey for its municipalities and a region it planned whole
    waves.coverage_plan = 'national' as counts_for_latvia,
    waves.coverage_plan = 'national' or coalesce(planned_regions.region_planned_whole, false) as counts_for_region
from respondents
inner join respondent_keys
    on respondents.wave_year = respondent_keys.wave_year
    and respondents.respondent_source_id = respondent_keys.respondent_source_id
inner join waves on respondents.wave_year = waves.wave_year
inner join weights
    on respondents.wave_year = weights.wave_year
    and respondents.respondent_source_id = weights.respondent_source_id
left join municipalities
    on respondents.municipality_code_delivered = municipalities.municipality_code
    and waves.boundary_set = municipalities.boundary_set
left join planned_regions
    on respondents.wave_year = planned_regions.wave_year
    and municipalities.region_2009_2023 = planned_regions.region_2009_2023
