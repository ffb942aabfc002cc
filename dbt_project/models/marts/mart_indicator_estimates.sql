-- Publishable indicator estimates: one row per indicator x wave x geography x subgroup x measure,
-- with a 95 % Wilson interval on the effective sample size, design effect, reliability flags
-- (NCHS) and disclosure control. Suppressed cells keep their row and reason but no values.
with cells as (
    select * from {{ ref('int_indicator_cells_protected') }}
),

rules as (
    select
        max(case when rule = 'z_95' then value end) as z,
        max(case when rule = 'nchs_min_effective_n' then value end) as min_n_eff,
        max(case when rule = 'nchs_max_ci_width' then value end) as max_width,
        max(case when rule = 'nchs_max_relative_ci_width' then value end) as max_relative_width
    from {{ ref('disclosure_rules') }}
),

indicators as (
    select * from {{ ref('indicators') }}
),

names as (
    select municipality_code as geo_code, municipality_name as geo_name
    from {{ ref('dim_municipality') }} where boundary_set = 'post2025_42'
),

measures as (
    select *, 'share_incl_hard_to_say' as measure, share_incl_hard_to_say as p,
           sum_w * sum_w / sum_w2 as n_eff, n_unweighted as n
    from cells
    union all
    select *, 'share_with_opinion', share_with_opinion,
           sum_w_opinion * sum_w_opinion / nullif(sum_w2_opinion, 0), n_with_opinion
    from cells
    union all
    select *, 'hard_to_say_share', hard_to_say_share, sum_w * sum_w / sum_w2, n_unweighted
    from cells
),

intervals as (
    select
        measures.*,
        rules.*,
        (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff) as centre,
        z * sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff * n_eff)) / (1 + z * z / n_eff) as half_width
    from measures
    cross join rules
),

flagged as (
    select
        *,
        greatest(0.0, centre - half_width) as ci_low,
        least(1.0, centre + half_width) as ci_high,
        -- compared at 9 decimals: an effective n of exactly 30 (equal weights) must not flip with the
        -- last bits of a parallel floating-point sum
        concat_ws('; ',
            case when round(n_eff, 9) < min_n_eff then 'effective n below ' || cast(min_n_eff as integer) end,
            case when round(2 * half_width, 12) > max_width then 'CI wider than ' || cast(round(100 * max_width) as integer) || ' points' end,
            case when p > 0 and round(2 * half_width / p, 12) > max_relative_width
                then 'CI width above ' || cast(round(100 * max_relative_width) as integer) || ' % of the estimate' end
        ) as reliability_reason
    from intervals
)

select
    flagged.indicator_code,
    indicators.name_lv as indicator_name_lv,
    indicators.name_en as indicator_name_en,
    flagged.wave_year,
    flagged.geo_level,
    flagged.geo_code,
    case flagged.geo_level when 'national' then 'Latvija' when 'region' then flagged.geo_code else names.geo_name end
        as geo_name,
    flagged.subgroup_type,
    flagged.subgroup_value,
    flagged.measure,
    case when flagged.is_suppressed then null else flagged.p end as estimate,
    case when flagged.is_suppressed then null else flagged.ci_low end as ci_low,
    case when flagged.is_suppressed then null else flagged.ci_high end as ci_high,
    case when flagged.is_suppressed then null else flagged.n end as n_unweighted,
    case when flagged.is_suppressed then null else flagged.n_eff end as n_effective,
    case when flagged.is_suppressed then null else flagged.n / flagged.n_eff end as design_effect,
    flagged.weight_source,
    case when flagged.is_suppressed then null else flagged.reliability_reason = '' end as is_reliable,
    case when flagged.is_suppressed then null else nullif(flagged.reliability_reason, '') end as reliability_reason,
    flagged.is_suppressed,
    flagged.suppression_reason,
    'Wilson score interval on the effective sample size (Kish), 95 %' as ci_method,
    case flagged.measure
        when 'share_incl_hard_to_say' then 'all asked, incl. hard to say'
        when 'share_with_opinion' then 'those with an opinion (excl. hard to say)'
        else 'all asked'
    end as denominator_en
from flagged
inner join indicators on flagged.indicator_code = indicators.indicator_code
left join names on flagged.geo_level = 'municipality' and flagged.geo_code = names.geo_code
