-- LABIS/SPOLIS service-provision figures: municipality x year x indicator x sex x age band.
with cell_values as (
    select * from {{ ref('int_admin__values') }}
),

indicators as (
    select * from {{ ref('admin_indicators') }}
),

municipalities as (
    select * from {{ ref('int_municipalities') }}
),

boundary_sets as (
    select * from {{ ref('boundary_sets') }}
)

select
    cell_values.municipality_code,
    boundary_sets.boundary_set,
    municipalities.municipality_name,
    cell_values.year,
    cell_values.row_no,
    indicators.indicator_code,
    indicators.label_lv as indicator_label_lv,
    indicators.label_en as indicator_label_en,
    cell_values.sex,
    cell_values.age_band,
    cell_values.measure,
    cell_values.value,
    case when cell_values.measure = 'expenditure_eur' then 'EUR/year' else indicators.unit end as unit,
    cell_values.availability,
    indicators.source_system,
    cell_values.source_file,
    cell_values.source_row_number,
    cell_values.source_column
from cell_values
left join indicators on cell_values.row_no = indicators.row_no
left join boundary_sets
    on cell_values.year >= boundary_sets.first_report_year
    and (boundary_sets.last_report_year is null or cell_values.year <= boundary_sets.last_report_year)
left join municipalities
    on cell_values.municipality_code = municipalities.municipality_code
    and boundary_sets.boundary_set = municipalities.boundary_set
