-- Trust next to service provision, for the scatter: one row per current municipality, wave and
-- provision indicator where the municipality's DIRECT survey estimate of trust is published (as in
-- mart_indicator_estimates: rounded, with its interval and reliability). Suppressed cells have no
-- row. No modelled value: the small-area model uses these provision figures as covariates, so a
-- modelled trust would restate them. The indicator's value is that of the year the wave's slope
-- used (mart_trust_provision_link.covariate_year).
with direct as (
    select geo_code as municipality_code, wave_year, estimate, ci_low, ci_high, is_reliable, n_band
    from {{ ref('mart_indicator_estimates') }}
    where indicator_code = 'trust_top2' and geo_level = 'municipality' and subgroup_type = 'all'
      and measure = 'share_incl_hard_to_say' and not is_suppressed
),

links as (
    select wave_year, provision_indicator, covariate_year
    from {{ ref('int_trust_provision_link') }}
    where scope = 'wave' and covariate_year is not null
),

provision as (
    select * from {{ ref('mart_provision_per_capita') }}
),

provision_long as (
    unpivot provision
    on recipients_per_1000, expenditure_per_resident_eur, residents_per_specialist, waiting_per_1000
    into name provision_indicator value indicator_value
),

labels as (
    select * from {{ ref('provision_indicators') }}
),

units as (
    select municipality_code, region_2009_2023 as region, nuts2016_code as region_code
    from {{ ref('int_municipalities') }}
    where boundary_set = {{ current_boundary_set() }}
)

select
    d.municipality_code,
    p.municipality_name,
    units.region_code,
    units.region,
    cast(d.wave_year as integer) as wave_year,
    'trust_top2' as indicator_code,
    d.estimate as trust_direct,
    d.ci_low as trust_ci_low,
    d.ci_high as trust_ci_high,
    d.is_reliable as trust_is_reliable,
    d.n_band,
    l.provision_indicator,
    labels.label_lv as provision_label_lv,
    labels.label_en as provision_label_en,
    cast(l.covariate_year as integer) as provision_year,
    round(p.indicator_value, labels.display_decimals) as provision_value
from direct as d
inner join links as l on d.wave_year = l.wave_year
inner join provision_long as p
    on p.municipality_code = d.municipality_code and p.year = l.covariate_year
   and p.provision_indicator = l.provision_indicator
left join labels on l.provision_indicator = labels.provision_indicator
left join units on units.municipality_code = d.municipality_code
