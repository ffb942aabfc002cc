-- Client overall satisfaction per wave, exact: shares of the five answers and the top-2 box, over all
-- clients asked, "hard to say" included in the denominator (the 2017 report's convention), with the
-- counts of every answer class and the number of different weights (for the publication rules of
-- marts.mart_client_satisfaction, which publishes it rounded and banded). Weights are decimals
-- (fct_respondent): the sums are exact, so the shares do not depend on row order.
with answers as (
    select * from {{ ref('int_survey__answers') }}
    where item_code = 'client_satisfaction'
),

respondents as (
    select * from {{ ref('int_survey__respondents_harmonised') }}
),

clients_asked as (
    select
        answers.wave_year,
        answers.harmonised_value,
        answers.missing_reason,
        respondents.weight as w,
        respondents.weight_source
    from answers
    inner join respondents
        on answers.respondent_key = respondents.respondent_key
        and answers.wave_year = respondents.wave_year
    where respondents.is_client
        and respondents.counts_for_latvia  -- a national figure: a local survey (codebook coverage) is not Latvia
        and (answers.harmonised_value is not null or answers.missing_reason = 'hard_to_say')
)

select
    wave_year,
    cast(count(*) as integer) as n_unweighted,
    cast(sum(w) as double) as sum_of_weights,
    cast(count(*) filter (where harmonised_value = 1) as integer) as n_fully,
    cast(count(*) filter (where harmonised_value = 2) as integer) as n_rather,
    cast(count(*) filter (where harmonised_value = 3) as integer) as n_rather_not,
    cast(count(*) filter (where harmonised_value = 4) as integer) as n_not_at_all,
    cast(count(*) filter (where missing_reason = 'hard_to_say') as integer) as n_hard_to_say,
    cast(count(distinct w) as integer) as n_weight_values,
    string_agg(distinct weight_source, ', ' order by weight_source) as weight_source,
    sum(case when harmonised_value = 1 then w else 0 end) / sum(w) as share_fully,
    sum(case when harmonised_value = 2 then w else 0 end) / sum(w) as share_rather,
    sum(case when harmonised_value = 3 then w else 0 end) / sum(w) as share_rather_not,
    sum(case when harmonised_value = 4 then w else 0 end) / sum(w) as share_not_at_all,
    sum(case when missing_reason = 'hard_to_say' then w else 0 end) / sum(w) as share_hard_to_say,
    sum(case when harmonised_value in (1, 2) then w else 0 end) / sum(w) as top2_share,
    'all clients asked, incl. hard to say' as denominator_en,
    'visi aptaujātie klienti, t.sk. grūti pateikt' as denominator_lv
from clients_asked
group by wave_year
