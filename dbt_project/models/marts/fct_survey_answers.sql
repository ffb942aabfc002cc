-- The long answers table: respondent x item, the harmonised value with its LV/EN label, or why it
-- is missing, next to the delivered variable and code (provenance). A view: the answers are stored
-- once (int_survey__answers), the labels joined when read.
with answers as (
    select * from {{ ref('int_survey__answers') }}
),

items as (
    select item_code, scale_code from {{ ref('dim_item') }}
),

scales as (
    select * from {{ ref('answer_scales') }}
)

select
    answers.respondent_key,
    answers.wave_year,
    answers.item_code,
    answers.harmonised_value,
    scales.label_lv as value_label_lv,
    scales.label_en as value_label_en,
    coalesce(scales.is_top2, false) and answers.harmonised_value is not null as is_top2,
    answers.missing_reason,
    answers.source_variable,
    answers.source_code,
    answers.source_label
from answers
left join items on answers.item_code = items.item_code
left join scales on items.scale_code = scales.scale_code and answers.harmonised_value = scales.value
