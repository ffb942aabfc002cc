-- Is trust higher where services are better provided? Pearson correlation across municipalities,
-- per wave and provision indicator, with a 95 % interval by Fisher's z (n - 3 degrees).
with data as (
    select * from {{ ref('mart_trust_provision') }}
),

long as (
    select wave_year, municipality_code, trust_estimate, 'recipients_per_1000' as provision_indicator,
           recipients_per_1000 as value from data
    union all
    select wave_year, municipality_code, trust_estimate, 'expenditure_per_resident_eur', expenditure_per_resident_eur
    from data
    union all
    select wave_year, municipality_code, trust_estimate, 'waiting_per_1000', waiting_per_1000 from data
    union all
    select wave_year, municipality_code, trust_estimate, 'residents_per_specialist', residents_per_specialist from data
),

r as (
    -- summed in a fixed order (by municipality): the same data gives the same r to the last bit in every build
    select wave_year, provision_indicator, corr(trust_estimate, value order by municipality_code) as r,
           count(value) as n
    from long
    group by all
)

select
    wave_year,
    provision_indicator,
    r as correlation,
    cast(n as integer) as n_municipalities,
    tanh(atanh(r) - 1.959963984540054 / sqrt(n - 3)) as ci_low,
    tanh(atanh(r) + 1.959963984540054 / sqrt(n - 3)) as ci_high,
    'Pearson r over municipalities (direct or modelled trust), 95 % CI by Fisher z' as method
from r
where n > 3  -- a wave without provision figures for its year (yet) has no correlation
