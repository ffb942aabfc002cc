-- Which items each wave asked. An item of the catalogue that a wave did not ask is "not_asked"
-- for that wave: reports show it as not asked, never as a missing answer or a zero.
with waves as (
    select wave_year, scope from {{ ref('stg_survey__waves') }}
),

items as (
    select item_code from {{ ref('item_catalogue') }}
    union
    select item_code from {{ ref('stg_survey__codebook_variables') }} where role = 'item'
),

asked as (
    select wave_year, item_code, source_variable
    from {{ ref('stg_survey__codebook_variables') }}
    where role = 'item'
)

select
    waves.wave_year,
    items.item_code,
    waves.scope as wave_scope,
    asked.source_variable is not null as is_asked,
    case when asked.source_variable is null then 'not_asked' end as missing_reason,
    asked.source_variable
from waves
cross join items
left join asked on waves.wave_year = asked.wave_year and items.item_code = asked.item_code
