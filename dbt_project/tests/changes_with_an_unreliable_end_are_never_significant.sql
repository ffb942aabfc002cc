-- A change whose earlier or later estimate is unreliable (NCHS) is never called significant.
select indicator_code, geo_level, geo_code, subgroup_type, subgroup_value, measure, wave_from, wave_to
from {{ ref('mart_indicator_changes') }}
where is_significant and not (is_reliable_from and is_reliable_to)
