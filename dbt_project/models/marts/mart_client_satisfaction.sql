-- Client overall satisfaction per wave, as published: int_client_satisfaction under the rules every
-- published figure follows (docs/methodology.md): shares rounded to whole percentage points, the
-- number of clients as a band, no sum of weights; the whole distribution withheld together when the
-- national satisfaction cell is suppressed, when any answer share would be 0 % or 100 % (group
-- disclosure), or, with at most two different weights, when an answer class has fewer than
-- min_category_n clients (a share then gives the count). The top-2 share is the published estimate of
-- mart_indicator_estimates, so the same figure reads the same everywhere.
with exact as (
    select * from {{ ref('int_client_satisfaction') }}
),

cell as (
    select wave_year, is_suppressed, suppression_reason, suppression_reason_lv
    from {{ ref('int_indicator_cells_protected') }}
    where indicator_code = 'satisfaction_top2' and geo_level = 'national' and subgroup_type = 'all'
),

published as (
    select wave_year, estimate
    from {{ ref('mart_indicator_estimates') }}
    where indicator_code = 'satisfaction_top2' and geo_level = 'national' and subgroup_type = 'all'
      and measure = 'share_incl_hard_to_say'
),

bands as (
    select * from {{ ref('publication_bands') }}
),

texts as (
    select text_en, text_lv from {{ ref('publication_texts') }} where text_code = 'withheld'
),

rules as (
    select
        max(case when rule = 'publish_decimals' then cast(value as integer) end) as d,
        max(case when rule = 'min_category_n' then value end) as k,
        max(case when rule = 'max_weight_values_count_rule' then value end) as few
    from {{ ref('disclosure_rules') }}
),

decided as (
    select
        exact.*,
        coalesce(cell.is_suppressed, true)
            or least(n_fully, n_rather, n_rather_not, n_not_at_all, n_hard_to_say) = 0
            or greatest(n_fully, n_rather, n_rather_not, n_not_at_all, n_hard_to_say) = n_unweighted
            or (n_weight_values <= rules.few
                and least(n_fully, n_rather, n_rather_not, n_not_at_all, n_hard_to_say) < rules.k)
            as withheld
    from exact
    cross join rules
    left join cell on exact.wave_year = cell.wave_year
)

select
    cast(d.wave_year as integer) as wave_year,
    bands.label as n_band,
    d.weight_source,
    case when not d.withheld then {{ publish_round('d.share_fully', 'rules.d') }} end as share_fully,
    case when not d.withheld then {{ publish_round('d.share_rather', 'rules.d') }} end as share_rather,
    case when not d.withheld then {{ publish_round('d.share_rather_not', 'rules.d') }} end as share_rather_not,
    case when not d.withheld then {{ publish_round('d.share_not_at_all', 'rules.d') }} end as share_not_at_all,
    case when not d.withheld then {{ publish_round('d.share_hard_to_say', 'rules.d') }} end as share_hard_to_say,
    case when not d.withheld then published.estimate end as top2_share,
    d.withheld as is_suppressed,
    case when d.withheld then texts.text_en end as suppression_reason,
    case when d.withheld then texts.text_lv end as suppression_reason_lv,
    d.denominator_en,
    d.denominator_lv
from decided as d
cross join rules
cross join texts
left join published on d.wave_year = published.wave_year
left join bands on d.n_unweighted >= bands.band_low and (bands.band_high is null or d.n_unweighted <= bands.band_high)
