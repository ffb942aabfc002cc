-- One row per loaded survey wave.
select
    wave_year,
    scope,
    delivery_format,
    boundary_set,
    age_min,
    age_max,
    n_respondents_delivered,
    has_delivered_weight,
    title_lv,
    title_en,
    source_file,
    source_file_sha256,
    codebook_file,
    coverage_plan,
    planned_municipalities,
    municipalities_with_respondents,
    regions_with_respondents,
    n_parts
from {{ ref('stg_survey__waves') }}
