-- Long answers table: respondent x item, built from the codebooks (no per-wave SQL).
-- Incremental by wave: a one-year run rebuilds only its wave (macros/wave_scope.sql).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='wave_year', on_schema_change='append_new_columns') }}

with cells as (
    select * from {{ ref('stg_survey__cells') }}
    where {{ only_waves_of_this_run('wave_year') }}
),

item_variables as (
    select * from {{ ref('stg_survey__codebook_variables') }}
    where role = 'item'
),

code_map as (
    select * from {{ ref('stg_survey__codebook_values') }}
),

respondent_keys as (
    select * from {{ ref('int_survey__respondent_keys') }}
)

select
    cells.wave_year,
    respondent_keys.respondent_key,
    item_variables.item_code,
    try_cast(coalesce(by_code.harmonised_value, by_label.harmonised_value) as integer) as harmonised_value,
    case
        when cells.source_code is null and cells.source_text is null
            then coalesce(item_variables.blank_reason, 'system_missing')
        else coalesce(by_code.missing_reason, by_label.missing_reason)
    end as missing_reason,
    cells.source_variable,
    cells.source_code,
    cells.source_text as source_label
from cells
inner join item_variables
    on cells.wave_year = item_variables.wave_year
    and cells.source_variable = item_variables.source_variable
inner join respondent_keys
    on cells.wave_year = respondent_keys.wave_year
    and cells.respondent_source_id = respondent_keys.respondent_source_id
left join code_map as by_code  -- a numeric code
    on cells.wave_year = by_code.wave_year
    and cells.source_variable = by_code.source_variable
    and cells.source_code = by_code.source_code
left join code_map as by_label  -- a label-coded variable: the codebook label the loader matched the text to
    on cells.wave_year = by_label.wave_year
    and cells.source_variable = by_label.source_variable
    and cells.source_text = by_label.source_label
