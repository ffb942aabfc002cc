select
    wave::integer as wave_year,
    respondent_source_id,
    row_number::integer as source_row_number,
    variable as source_variable,
    value_num as source_code,
    value_text as source_text,
    load_id
from {{ source('raw', 'survey_cells') }}
