select
    wave::integer as wave_year,
    scope,
    delivery_format,
    boundary_set,
    age_min::integer as age_min,
    age_max::integer as age_max,
    n_respondents::integer as n_respondents_delivered,
    has_weight as has_delivered_weight,
    title_lv,
    title_en,
    source_file,
    sha256 as source_file_sha256,
    codebook_file,
    load_id
from {{ source('raw', 'survey_waves') }}
