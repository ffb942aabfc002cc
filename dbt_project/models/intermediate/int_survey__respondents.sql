-- One row per respondent and wave: the attribute variables named by each wave's codebook.
-- Incremental by wave: a one-year run rebuilds only its wave (macros/wave_scope.sql).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='wave_year', on_schema_change='append_new_columns') }}

with cells as (
    select * from {{ ref('stg_survey__cells') }}
    where {{ only_waves_of_this_run('wave_year') }}
),

attribute_variables as (
    select * from {{ ref('stg_survey__codebook_variables') }}
    where role <> 'item'
),

code_map as (
    select * from {{ ref('stg_survey__codebook_values') }}
),

attributes as (
    select
        cells.wave_year,
        cells.respondent_source_id,
        attribute_variables.role,
        cells.source_code,
        cells.source_text,
        coalesce(by_code.harmonised_value, by_label.harmonised_value) as harmonised_value
    from cells
    inner join attribute_variables
        on cells.wave_year = attribute_variables.wave_year
        and cells.source_variable = attribute_variables.source_variable
    left join code_map as by_code  -- a numeric code
        on cells.wave_year = by_code.wave_year
        and cells.source_variable = by_code.source_variable
        and cells.source_code = by_code.source_code
    left join code_map as by_label  -- a label-coded variable: the codebook label the loader matched the text to
        on cells.wave_year = by_label.wave_year
        and cells.source_variable = by_label.source_variable
        and cells.source_text = by_label.source_label
)

select
    wave_year,
    respondent_source_id,
    max(case when role = 'municipality_code'
        then coalesce(source_text, lpad(cast(cast(source_code as bigint) as varchar), 7, '0')) end)
        as municipality_code_delivered,
    max(case when role = 'sex' then harmonised_value end) as sex,
    max(case when role = 'age' then cast(source_code as integer) end) as age_years,
    max(case when role = 'client' then cast(harmonised_value as boolean) end) as is_client,
    max(case when role = 'weight' then source_code end) as weight_delivered
from attributes
group by wave_year, respondent_source_id
