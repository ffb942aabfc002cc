-- Trust in each region and current municipality against Latvia (and a municipality against its
-- region), per wave, with whether each gap is more than sampling noise after the Benjamini-Hochberg
-- correction (int_trust_comparisons). A municipality's figure is its direct estimate where that is
-- published and reliable, otherwise the model's regression-synthetic estimate fitted without its
-- respondents (estimate_type says which). Rounded to whole percentage points; gaps are rounded, and
-- only their significance is published (no standard errors or p-values, which would give back a
-- small cell's sample size).
with c as (
    select * from {{ ref('int_trust_comparisons') }}
),

rules as (
    select
        max(case when rule = 'publish_decimals' then cast(value as integer) end) as d,
        max(case when rule = 'fdr_q' then value end) as q
    from {{ ref('disclosure_rules') }}
)

select
    cast(c.wave_year as integer) as wave_year,
    c.geo_level,
    c.geo_code,
    cast(c.geo_name as varchar) as geo_name,
    cast(c.region_code as varchar) as region_code,
    cast(c.region as varchar) as region,
    'trust_top2' as indicator_code,
    cast(c.estimate_type as varchar) as estimate_type,
    {{ publish_round('c.estimate', 'rules.d') }} as estimate,
    {{ publish_floor('c.ci_low', 'rules.d') }} as ci_low,
    {{ publish_ceil('c.ci_high', 'rules.d') }} as ci_high,
    {{ publish_round('c.gap_latvia_estimate', 'rules.d') }} as latvia_estimate,
    {{ publish_round('c.estimate', 'rules.d') }} - {{ publish_round('c.gap_latvia_estimate', 'rules.d') }}
        as gap_latvia,
    c.gap_latvia_significant,
    {{ publish_round('c.gap_region_estimate', 'rules.d') }} as region_estimate,
    {{ publish_round('c.estimate', 'rules.d') }} - {{ publish_round('c.gap_region_estimate', 'rules.d') }}
        as gap_region,
    c.gap_region_significant,
    'Benjamini-Hochberg FDR ' || cast(round(100 * rules.q) as integer) || ' % per wave and level over the '
        || cast(c.gap_latvia_family_size as integer) || ' gaps to Latvia'
        || case when c.geo_level = 'municipality'
                then ' and the ' || cast(c.gap_region_family_size as integer) || ' gaps to the region' else '' end
        as significance_method,
    cast(c.model_fit_status as varchar) as model_fit_status,
    cast(c.model_skip_reason as varchar) as model_skip_reason
from c
cross join rules
