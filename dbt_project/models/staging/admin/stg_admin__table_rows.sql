select
    municipality_code,
    municipality_name as municipality_name_delivered,
    year::integer as year,
    row_no,
    excel_row::integer as source_row_number,
    data_type as data_type_lv,
    total, women, men,
    age_0_17, age_18_24, age_25_54, age_55_64, age_65_79, age_80_89, age_90_plus,
    expenditure_eur,
    source_comment,
    source_file,
    sheet as source_sheet,
    load_id
from {{ source('raw', 'admin_table_rows') }}
