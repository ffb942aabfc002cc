select
    wave::integer as wave_year,
    variable as source_variable,
    code as source_code,
    label as source_label_lv
from {{ source('raw', 'survey_value_labels') }}
