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
    -- each value column's number as the loader read it (ingest/numbers.py: the one parser)
    total_value, women_value, men_value, age_0_17_value, age_18_24_value, age_25_54_value, age_55_64_value,
    age_65_79_value, age_80_89_value, age_90_plus_value, expenditure_eur_value,
    source_comment,
    source_file,
    sheet as source_sheet,
    load_id
from {{ source('raw', 'admin_table_rows') }}
