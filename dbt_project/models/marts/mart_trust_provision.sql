-- Trust next to service provision, per current municipality and wave: the direct estimate where it
-- is published and reliable; otherwise the regression-synthetic estimate of a model fitted WITHOUT
-- that municipality's respondents (int_trust_small_area.synthetic_estimate / synthetic_mse), so
-- nothing published for a suppressed or unreliable cell depends on its own sample and neither the
-- estimate nor its error can be inverted for its sample size. The model's EBLUP and its Prasad-Rao
-- MSE (which reveal the cell's effective n) are not published. Rounded to whole percentage points.
with direct as (
    select geo_code as municipality_code, wave_year, estimate, ci_low, ci_high, is_reliable, is_suppressed
    from {{ ref('mart_indicator_estimates') }}
    where indicator_code = 'trust_top2' and geo_level = 'municipality' and subgroup_type = 'all'
      and measure = 'share_incl_hard_to_say'
),

modelled as (
    select * from {{ ref('int_trust_small_area') }}
),

provision as (
    select * from {{ ref('mart_provision_per_capita') }}
),

rules as (
    select
        max(case when rule = 'z_95' then value end) as z,
        max(case when rule = 'publish_decimals' then cast(value as integer) end) as d
    from {{ ref('disclosure_rules') }}
),

joined as (
    select
        modelled.municipality_code,
        cast(modelled.wave_year as integer) as wave_year,
        coalesce(direct.is_reliable and not direct.is_suppressed, false) as use_direct,
        direct.estimate as direct_estimate,
        direct.ci_low as direct_ci_low,
        direct.ci_high as direct_ci_high,
        direct.is_reliable as direct_is_reliable,
        coalesce(direct.is_suppressed, true) as direct_is_suppressed,
        cast(modelled.fit_status as varchar) as fit_status,
        cast(modelled.skip_reason as varchar) as skip_reason,
        {{ publish_round('modelled.synthetic_estimate', 'rules.d') }} as synthetic,
        {{ publish_round('sqrt(modelled.synthetic_mse)', 'rules.d') }} as synthetic_rmse,
        greatest(0.0, {{ publish_floor('modelled.synthetic_estimate - rules.z * sqrt(modelled.synthetic_mse)', 'rules.d') }})
            as synthetic_ci_low,
        least(1.0, {{ publish_ceil('modelled.synthetic_estimate + rules.z * sqrt(modelled.synthetic_mse)', 'rules.d') }})
            as synthetic_ci_high
    from modelled
    cross join rules
    left join direct on modelled.municipality_code = direct.municipality_code and modelled.wave_year = direct.wave_year
)

select
    j.municipality_code,
    provision.municipality_name,
    j.wave_year,
    'trust_top2' as indicator_code,
    case when j.use_direct then 'direct' when j.synthetic is not null then 'modelled' else 'none' end
        as estimate_type,
    case when j.use_direct then j.direct_estimate else j.synthetic end as trust_estimate,
    case when j.use_direct then j.direct_ci_low else j.synthetic_ci_low end as trust_ci_low,
    case when j.use_direct then j.direct_ci_high else j.synthetic_ci_high end as trust_ci_high,
    j.direct_estimate as trust_direct,
    j.direct_is_reliable as trust_direct_is_reliable,
    j.direct_is_suppressed as trust_direct_is_suppressed,
    j.synthetic as trust_modelled,
    j.synthetic_rmse as trust_modelled_rmse,
    'synthetic' as model_estimate_type,
    j.fit_status as model_fit_status,
    j.skip_reason as model_skip_reason,
    provision.recipients_per_1000,
    provision.expenditure_per_resident_eur,
    provision.expenditure_per_recipient_eur,
    provision.waiting_per_1000,
    provision.residents_per_specialist,
    provision.population,
    provision.population_source
from joined as j
left join provision on j.municipality_code = provision.municipality_code and j.wave_year = provision.year
