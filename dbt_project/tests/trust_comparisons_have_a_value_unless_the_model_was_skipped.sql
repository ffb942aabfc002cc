-- A municipality-wave of mart_trust_comparisons has a trust value, direct or modelled, unless the direct
-- value is not shown and the small-area model could not be fitted for the wave (then it says why); a
-- gap is significant only where there is a value to compare.
select wave_year, geo_level, geo_code, estimate_type, model_fit_status
from {{ ref('mart_trust_comparisons') }}
where (estimate is null) <> (estimate_type = 'none')
   or (geo_level = 'municipality' and estimate_type = 'none'
       and (model_fit_status <> 'skipped' or model_skip_reason is null))
   or (gap_latvia_significant and gap_latvia is null)
   or (gap_region_significant and gap_region is null)
