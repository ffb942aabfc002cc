-- One row per respondent and indicator the respondent counts in (asked, and in the indicator's
-- population), with the weight, the respondent's geography on the current boundary set and the
-- answer class: numerator (e.g. "fully" + "rather" trust), another opinion, "hard to say", or a
-- refusal. Refusals are kept (the base "all asked" counts them); answers that are not applicable
-- (e.g. client items for non-clients) are not rows here. n_design: the wave's respondents (the
-- design's primary units, for the variance's finite-sample factor).
with indicators as (
    select
        *,
        list_transform(string_split(numerator_values, ';'), x -> cast(x as integer)) as numerator_list
    from {{ ref('indicators') }}
),

answers as (
    select * from {{ ref('int_survey__answers') }}
    where harmonised_value is not null or missing_reason in ('hard_to_say', 'refused')
),

respondents as (
    select * from {{ ref('int_survey__respondents_harmonised') }}
),

current_units as (
    select municipality_code, region_2009_2023 from {{ ref('int_municipalities') }}
    where boundary_set = {{ current_boundary_set() }}
),

design as (
    -- respondents of the wave: the primary sampling units of the (unclustered, unstratified) design
    select wave_year, count(*) as n_design from respondents group by wave_year
)

select
    indicators.indicator_code,
    answers.wave_year,
    answers.respondent_key,
    respondents.weight as w,
    respondents.weight_source,
    respondents.current_municipality_code,
    coalesce(current_units.region_2009_2023, respondents.region_2009_2023) as region,
    respondents.sex,
    respondents.age_band,
    case when respondents.is_client then 'client' else 'non_client' end as client_status,
    indicators.population,
    case when list_contains(indicators.numerator_list, answers.harmonised_value) then 1 else 0 end as is_numerator,
    case when answers.harmonised_value is not null then 1 else 0 end as has_opinion,
    case when answers.missing_reason = 'hard_to_say' then 1 else 0 end as is_hard_to_say,
    case when answers.missing_reason = 'refused' then 1 else 0 end as is_refused,
    cast(design.n_design as integer) as n_design
from answers
inner join indicators on answers.item_code = indicators.item_code
inner join respondents on answers.respondent_key = respondents.respondent_key
left join current_units on respondents.current_municipality_code = current_units.municipality_code
inner join design on answers.wave_year = design.wave_year
where indicators.population <> 'clients' or respondents.is_client
