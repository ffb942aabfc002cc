select
    wave::integer as wave_year,
    source_variable,
    role,
    item_code,
    blank_reason,
    label_lv as item_label_lv,
    label_en as item_label_en,
    scale_code as item_scale_code
from {{ source('raw', 'codebook_variables') }}
