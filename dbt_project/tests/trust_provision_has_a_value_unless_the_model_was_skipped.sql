-- A municipality-wave of mart_trust_provision has a published trust value, direct or modelled, unless the
-- direct value is not shown and the small-area model could not be fitted for the wave (then it says why).
select municipality_code, wave_year, estimate_type, model_fit_status
from {{ ref('mart_trust_provision') }}
where (trust_estimate is null) <> (estimate_type = 'none')
   or (estimate_type = 'none' and (model_fit_status <> 'skipped' or model_skip_reason is null))
