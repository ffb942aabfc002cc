-- Change of each published estimate since the previous wave that asked the item, with a 95 %
-- interval of the difference (independent samples, variances on the effective n) and a
-- significance flag. No row where either wave's cell is suppressed or the item was not asked.
with estimates as (
    select * from {{ ref('mart_indicator_estimates') }}
    where not is_suppressed
),

z as (
    select value as z from {{ ref('disclosure_rules') }} where rule = 'z_95'
),

paired as (
    select
        later.indicator_code,
        later.geo_level,
        later.geo_code,
        later.geo_name,
        later.subgroup_type,
        later.subgroup_value,
        later.measure,
        earlier.wave_year as wave_from,
        later.wave_year as wave_to,
        earlier.estimate as estimate_from,
        later.estimate as estimate_to,
        later.estimate - earlier.estimate as difference,
        sqrt(earlier.estimate * (1 - earlier.estimate) / earlier.n_effective
             + later.estimate * (1 - later.estimate) / later.n_effective) as standard_error,
        row_number() over (
            partition by later.indicator_code, later.geo_level, later.geo_code, later.subgroup_type,
                         later.subgroup_value, later.measure, later.wave_year
            order by earlier.wave_year desc
        ) as rn
    from estimates as later
    inner join estimates as earlier
        on later.indicator_code = earlier.indicator_code
        and later.geo_level = earlier.geo_level
        and later.geo_code = earlier.geo_code
        and later.subgroup_type = earlier.subgroup_type
        and later.subgroup_value = earlier.subgroup_value
        and later.measure = earlier.measure
        and earlier.wave_year < later.wave_year
)

select
    indicator_code,
    geo_level,
    geo_code,
    geo_name,
    subgroup_type,
    subgroup_value,
    measure,
    wave_from,
    wave_to,
    estimate_from,
    estimate_to,
    difference,
    difference - z.z * standard_error as difference_ci_low,
    difference + z.z * standard_error as difference_ci_high,
    abs(difference) > z.z * standard_error as is_significant
from paired
cross join z
where rn = 1
