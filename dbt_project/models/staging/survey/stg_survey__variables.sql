select
    wave::integer as wave_year,
    variable as source_variable,
    position::integer as position,
    label as source_label_lv,
    var_type,
    user_missing as user_missing_codes
from {{ source('raw', 'survey_variables') }}
