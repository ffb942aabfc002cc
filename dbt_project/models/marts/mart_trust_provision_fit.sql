-- The fitted line of each per-wave trust-provision slope with its 95 % band, at evenly spaced values
-- of the indicator over its observed range: drawn over the scatter of direct estimates. Rounded as
-- the slopes are.
with lines as (
    select * from {{ ref('int_trust_provision_fit_line') }}
),

rules as (
    select cast(value as integer) as d from {{ ref('disclosure_rules') }} where rule = 'publish_slope_decimals'
)

select
    lines.indicator_code,
    cast(lines.wave_year as integer) as wave_year,
    lines.provision_indicator,
    cast(lines.point as integer) as point,
    round(lines.indicator_value, 2) as indicator_value,
    {{ publish_round('lines.fitted', 'rules.d') }} as fitted,
    {{ publish_floor('lines.fitted_ci_low', 'rules.d') }} as fitted_ci_low,
    {{ publish_ceil('lines.fitted_ci_high', 'rules.d') }} as fitted_ci_high
from lines
cross join rules
