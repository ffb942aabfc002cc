select wave_year, scope, delivery_format, boundary_set, n_respondents_delivered, has_delivered_weight, title_lv, title_en
from dim_wave
