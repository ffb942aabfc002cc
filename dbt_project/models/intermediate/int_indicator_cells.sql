-- Weighted estimates per indicator x wave x geography (national, region, municipality on the
-- current boundary set) x subgroup (all, client status, sex, age band), before disclosure control.
-- Shares: over all asked incl. "hard to say" (the 2017 report's convention), over those with an
-- opinion, and the "hard to say" share. Kish design effect and effective n per cell.
with responses as (
    select * from {{ ref('int_indicator_responses') }}
),

by_geography as (
    select *, 'national' as geo_level, 'LV' as geo_code from responses
    union all
    select *, 'region', region from responses where region is not null
    union all
    select *, 'municipality', current_municipality_code from responses where current_municipality_code is not null
),

by_subgroup as (
    select *, 'all' as subgroup_type, 'all' as subgroup_value from by_geography
    union all
    select *, 'client_status', client_status from by_geography where population = 'residents'
    union all
    select *, 'sex', sex from by_geography where sex is not null
    union all
    select *, 'age_band', age_band from by_geography where age_band is not null
)

select
    indicator_code,
    wave_year,
    geo_level,
    geo_code,
    subgroup_type,
    subgroup_value,
    cast(count(*) as integer) as n_unweighted,
    cast(sum(has_opinion) as integer) as n_with_opinion,
    string_agg(distinct weight_source, ', ') as weight_source,
    sum(w) as sum_w,
    sum(w * w) as sum_w2,
    sum(w * has_opinion) as sum_w_opinion,
    sum(w * w * has_opinion) as sum_w2_opinion,
    sum(w * is_numerator) / sum(w) as share_incl_hard_to_say,
    sum(w * is_numerator) / nullif(sum(w * has_opinion), 0) as share_with_opinion,
    sum(w * is_hard_to_say) / sum(w) as hard_to_say_share
from by_subgroup
group by all
