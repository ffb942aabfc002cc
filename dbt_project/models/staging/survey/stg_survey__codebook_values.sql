select
    wave::integer as wave_year,
    source_variable,
    source_code,
    source_label,
    harmonised_value,
    missing_reason
from {{ source('raw', 'codebook_values') }}
