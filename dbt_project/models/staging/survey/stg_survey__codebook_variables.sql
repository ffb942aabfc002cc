select
    wave::integer as wave_year,
    source_variable,
    role,
    item_code
from {{ source('raw', 'codebook_variables') }}
