-- LABIS/SPOLIS figures as delivered, per municipality x year x indicator x column, with the person
-- counts by sex and age band under disclosure control (intermediate/int_admin__provision_protected.py):
-- a withheld count has no value and one generic reason. Every figure stays in the warehouse
-- (intermediate.int_admin__provision), and the per-capita marts use the true values.
with protected as (
    select * from {{ ref('int_admin__provision_protected') }}
),

texts as (
    select text_en, text_lv from {{ ref('publication_texts') }} where text_code = 'withheld'
)

select
    p.municipality_code,
    p.boundary_set,
    p.municipality_name,
    p.year,
    p.row_no,
    p.indicator_code,
    p.indicator_label_lv,
    p.indicator_label_en,
    p.sex,
    p.age_band,
    p.measure,
    case when not p.is_suppressed then p.value end as value,
    p.unit,
    p.availability,
    p.is_suppressed,
    case when p.is_suppressed then texts.text_en end as suppression_reason,
    case when p.is_suppressed then texts.text_lv end as suppression_reason_lv,
    p.source_system,
    p.source_file,
    p.source_row_number,
    p.source_column
from protected as p
cross join texts
