-- Is trust higher where services are better provided? The published slopes of municipal trust on
-- each provision indicator, per wave and pooled over waves, estimated from the municipalities'
-- direct survey estimates and their sampling error only (int_trust_provision_link): never from a
-- modelled municipal value. Slope in percentage points of trust per standard deviation of the
-- indicator, its 95 % interval (ends outwards) and p-value, the Benjamini-Hochberg q-value over the
-- whole table, and whether the slope is significant after that correction.
with links as (
    select * from {{ ref('int_trust_provision_link') }}
),

labels as (
    select * from {{ ref('provision_indicators') }}
),

rules as (
    select
        max(case when rule = 'publish_slope_decimals' then cast(value as integer) end) as d,
        max(case when rule = 'publish_p_decimals' then cast(value as integer) end) as dp,
        max(case when rule = 'fdr_q' then value end) as q
    from {{ ref('disclosure_rules') }}
)

select
    l.indicator_code,
    l.scope,
    cast(l.wave_year as integer) as wave_year,
    cast(l.waves as varchar) as waves,
    l.provision_indicator,
    labels.label_lv as provision_label_lv,
    labels.label_en as provision_label_en,
    labels.unit_lv as provision_unit_lv,
    labels.unit_en as provision_unit_en,
    cast(l.covariate_year as integer) as covariate_year,
    cast(l.n_municipalities as integer) as n_municipalities,
    round(l.indicator_sd, labels.display_decimals) as indicator_sd,
    100 * {{ publish_round('l.slope', 'rules.d') }} as slope_pp,
    100 * {{ publish_floor('l.slope_ci_low', 'rules.d') }} as slope_ci_low_pp,
    100 * {{ publish_ceil('l.slope_ci_high', 'rules.d') }} as slope_ci_high_pp,
    {{ publish_round('l.p_value', 'rules.dp') }} as p_value,
    {{ publish_round('l.q_value', 'rules.dp') }} as q_value,
    l.is_significant,
    case when l.fit_status = 'fitted'
         then 'Benjamini-Hochberg FDR ' || cast(round(100 * rules.q) as integer) || ' % over the '
              || cast(l.family_size as integer) || ' slopes of this table'
    end as significance_method,
    cast(l.fit_status as varchar) as fit_status,
    cast(l.skip_reason as varchar) as skip_reason,
    cast(l.method as varchar) as method
from links as l
cross join rules
left join labels on l.provision_indicator = labels.provision_indicator
