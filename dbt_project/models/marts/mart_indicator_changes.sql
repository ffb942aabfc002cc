-- Change of each published estimate since the previous wave that ASKED the item (not the previous
-- wave that happened to publish the cell): difference with its 95 % interval (independent samples,
-- linearised variances) and a significance flag that controls the false discovery rate
-- (Benjamini-Hochberg at seed disclosure_rules.fdr_q, per wave pair and geography level), tested
-- only between two reliable estimates (a change with an unreliable end is never significant). No row
-- where either wave's value is suppressed or withheld, or the item was not asked. Published, like the
-- estimates, in whole percentage points (interval ends outwards); the difference is that of the
-- published figures, the interval and significance are computed before rounding.
with changes as (
    select * from {{ ref('int_indicator_changes') }}
),

published as (
    select * from {{ ref('mart_indicator_estimates') }}
),

decimals as (
    select cast(value as integer) as d from {{ ref('disclosure_rules') }} where rule = 'publish_decimals'
),

fdr as (
    select value as q from {{ ref('disclosure_rules') }} where rule = 'fdr_q'
)

select
    c.indicator_code,
    c.geo_level,
    c.geo_code,
    later.geo_name,
    c.subgroup_type,
    c.subgroup_value,
    c.measure,
    cast(c.wave_from as integer) as wave_from,
    cast(c.wave_to as integer) as wave_to,
    earlier.estimate as estimate_from,
    later.estimate as estimate_to,
    c.is_reliable_from,
    c.is_reliable_to,
    -- the difference of the published figures, so that a page never shows 85 % -> 87 % as "+1 p.p."
    later.estimate - earlier.estimate as difference,
    {{ publish_floor('c.difference_ci_low', 'decimals.d') }} as difference_ci_low,
    {{ publish_ceil('c.difference_ci_high', 'decimals.d') }} as difference_ci_high,
    {{ publish_round('c.q_value', 3) }} as q_value,
    c.is_significant,
    case when c.significance_note is null
         then 'Benjamini-Hochberg FDR ' || cast(round(100 * fdr.q) as integer) || ' % over the ' || c.family_size
              || ' changes between reliable estimates of ' || c.geo_level || ' level, '
              || cast(c.wave_from as integer) || '->' || cast(c.wave_to as integer)
         else c.significance_note
    end as significance_method
from changes as c
cross join decimals
cross join fdr
inner join published as later
    on later.indicator_code = c.indicator_code and later.wave_year = c.wave_to and later.geo_level = c.geo_level
    and later.geo_code = c.geo_code and later.subgroup_type = c.subgroup_type
    and later.subgroup_value = c.subgroup_value and later.measure = c.measure
inner join published as earlier
    on earlier.indicator_code = c.indicator_code and earlier.wave_year = c.wave_from and earlier.geo_level = c.geo_level
    and earlier.geo_code = c.geo_code and earlier.subgroup_type = c.subgroup_type
    and earlier.subgroup_value = c.subgroup_value and earlier.measure = c.measure
