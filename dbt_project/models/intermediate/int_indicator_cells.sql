-- Weighted cells per indicator x wave x geography (national, region, municipality on the current
-- boundary set) x subgroup (all, client status, sex, age band), before disclosure control. Not
-- published: exact counts and sums feed int_indicator_estimates, the disclosure control and the
-- small-area model.
--
-- Bases of a cell (respondents asked the item, in the indicator's population):
--   n_asked        all asked, incl. "hard to say" and refusals          (share_all_asked)
--   n_unweighted   all asked who answered or said "hard to say"         (share_incl_hard_to_say, hard_to_say_share)
--   n_with_opinion those with an opinion (excl. "hard to say", refusals) (share_with_opinion)
-- sum_w / sum_w2 are over the n_unweighted base (the small-area model's inputs); the sums of
-- squared weights per answer class give the linearised variances.
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
    by_subgroup.indicator_code,
    by_subgroup.wave_year,
    by_subgroup.geo_level,
    by_subgroup.geo_code,
    by_subgroup.subgroup_type,
    by_subgroup.subgroup_value,
    cast(count(*) as integer) as n_asked,
    cast(count(*) - sum(is_refused) as integer) as n_unweighted,
    cast(sum(has_opinion) as integer) as n_with_opinion,
    cast(sum(is_numerator) as integer) as n_numerator,
    cast(sum(is_hard_to_say) as integer) as n_hard_to_say,
    cast(sum(is_refused) as integer) as n_refused,
    cast(any_value(n_design) as integer) as n_design,
    string_agg(distinct weight_source, ', ') as weight_source,
    min(w) as min_w,
    max(w) as max_w,
    cast(count(distinct round(w, 9)) as integer) as n_weight_values,
    sum(w) as sum_w_asked,
    sum(w * w) as sum_w2_asked,
    sum(w) filter (where is_refused = 0) as sum_w,
    sum(w * w) filter (where is_refused = 0) as sum_w2,
    sum(w * has_opinion) as sum_w_opinion,
    sum(w * w * has_opinion) as sum_w2_opinion,
    sum(w * is_numerator) as sum_w_numerator,
    sum(w * w * is_numerator) as sum_w2_numerator,
    sum(w * is_hard_to_say) as sum_w_hard_to_say,
    sum(w * w * is_hard_to_say) as sum_w2_hard_to_say,
    sum(w * is_numerator) / sum(w) as share_all_asked,
    sum(w * is_numerator) / nullif(sum(w) filter (where is_refused = 0), 0) as share_incl_hard_to_say,
    sum(w * is_numerator) / nullif(sum(w * has_opinion), 0) as share_with_opinion,
    sum(w * is_hard_to_say) / nullif(sum(w) filter (where is_refused = 0), 0) as hard_to_say_share
from by_subgroup
group by all
