-- the answer distribution of the index page; respondents are read from mart_indicator_estimates' n_band
select
    wave_year,
    weight_source,
    share_fully,
    share_rather,
    share_rather_not,
    share_not_at_all,
    share_hard_to_say,
    top2_share,
    denominator_lv,
    denominator_en
from mart_client_satisfaction
order by wave_year
