-- Trust next to service provision, per current municipality and wave: the direct estimate where it
-- is published and reliable, otherwise the Fay-Herriot model-based estimate (flagged, with its RMSE),
-- beside the same year's provision per capita.
with direct as (
    select geo_code as municipality_code, wave_year, estimate, ci_low, ci_high, n_unweighted, is_reliable,
           is_suppressed
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

z as (
    select value as z from {{ ref('disclosure_rules') }} where rule = 'z_95'
)

select
    modelled.municipality_code,
    provision.municipality_name,
    cast(modelled.wave_year as integer) as wave_year,
    'trust_top2' as indicator_code,
    case when direct.is_reliable and not direct.is_suppressed then 'direct' else 'modelled' end as estimate_type,
    case when direct.is_reliable and not direct.is_suppressed then direct.estimate
         else modelled.modelled_estimate end as trust_estimate,
    case when direct.is_reliable and not direct.is_suppressed then direct.ci_low
         else greatest(0.0, modelled.modelled_estimate - z.z * sqrt(modelled.modelled_mse)) end as trust_ci_low,
    case when direct.is_reliable and not direct.is_suppressed then direct.ci_high
         else least(1.0, modelled.modelled_estimate + z.z * sqrt(modelled.modelled_mse)) end as trust_ci_high,
    case when direct.is_suppressed then null else direct.estimate end as trust_direct,
    direct.is_reliable as trust_direct_is_reliable,
    coalesce(direct.is_suppressed, false) as trust_direct_is_suppressed,
    modelled.modelled_estimate as trust_modelled,
    sqrt(modelled.modelled_mse) as trust_modelled_rmse,
    modelled.estimate_type as model_estimate_type,
    provision.recipients_per_1000,
    provision.expenditure_per_resident_eur,
    provision.expenditure_per_recipient_eur,
    provision.waiting_per_1000,
    provision.residents_per_specialist,
    provision.population,
    provision.population_source
from modelled
cross join z
left join direct on modelled.municipality_code = direct.municipality_code and modelled.wave_year = direct.wave_year
left join provision on modelled.municipality_code = provision.municipality_code and modelled.wave_year = provision.year
