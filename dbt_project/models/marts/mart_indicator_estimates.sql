-- Publishable indicator estimates: one row per indicator x wave x geography x subgroup x measure.
-- What is published and why: docs/methodology.md, section 8.
--   * shares and Korn-Graubard interval ends rounded to whole percentage points (interval ends
--     outwards), never exact; no effective n, design effect or variance; a small cell's interval is
--     the band-based one (int_indicator_estimates.published_*), which its published figures alone
--     determine;
--   * the cell's respondent count only as a band (seed publication_bands), one band per cell on
--     every measure row (the count of all asked), so counts of different bases cannot be differenced;
--   * the measures a cell publishes are fixed by its band (four from full_measures_min_n, else
--     share_incl_hard_to_say alone): one row per published measure;
--   * NCHS reliability and review flags computed on the unrounded published interval;
--   * a suppressed cell keeps its rows and one generic reason but no number.
with estimates as (
    select * from {{ ref('int_indicator_estimates') }}
),

cells as (
    select * from {{ ref('int_indicator_cells_protected') }}
),

bands as (
    select * from {{ ref('publication_bands') }}
),

indicators as (
    select * from {{ ref('indicators') }}
),

decimals as (
    select cast(value as integer) as d from {{ ref('disclosure_rules') }} where rule = 'publish_decimals'
),

names as (
    select municipality_code as geo_code, municipality_name as geo_name
    from {{ ref('dim_municipality') }} where boundary_set = {{ current_boundary_set() }}
),

protected as (
    select
        estimates.*,
        cells.n_asked,
        cells.is_suppressed as row_is_suppressed,
        cells.suppression_reason as row_reason,
        cells.suppression_reason_lv as row_reason_lv
    from estimates
    inner join cells using (indicator_code, wave_year, geo_level, geo_code, subgroup_type, subgroup_value)
    -- the measures the cell publishes: fixed by its band, not by its answers
    where cells.publishes_all_measures or estimates.measure = 'share_incl_hard_to_say'
),

population_words as (
    select
        indicator_code,
        case population when 'clients' then 'social-service clients' else 'residents' end as pop_en,
        case population when 'clients' then 'sociālā dienesta klienti' else 'iedzīvotāji' end as pop_lv
    from indicators
)

select
    p.indicator_code,
    indicators.name_lv as indicator_name_lv,
    indicators.name_en as indicator_name_en,
    p.wave_year,
    p.geo_level,
    p.geo_code,
    case p.geo_level when 'national' then 'Latvija' when 'region' then p.geo_code else names.geo_name end as geo_name,
    p.subgroup_type,
    p.subgroup_value,
    p.measure,
    case when not p.row_is_suppressed then {{ publish_round('p.estimate', 'decimals.d') }} end as estimate,
    case when not p.row_is_suppressed then {{ publish_floor('p.published_ci_low', 'decimals.d') }} end as ci_low,
    case when not p.row_is_suppressed then {{ publish_ceil('p.published_ci_high', 'decimals.d') }} end as ci_high,
    case when not p.row_is_suppressed then bands.label end as n_band,
    case when not p.row_is_suppressed then bands.band_low end as n_band_low,
    case when not p.row_is_suppressed then bands.band_high end as n_band_high,
    p.weight_source,
    case when not p.row_is_suppressed then p.published_is_reliable end as is_reliable,
    case when not p.row_is_suppressed then p.published_reliability_reason end as reliability_reason,
    case when not p.row_is_suppressed then p.published_needs_review end as needs_review,
    case when not p.row_is_suppressed then p.published_review_reason end as review_reason,
    p.row_is_suppressed as is_suppressed,
    p.row_reason as suppression_reason,
    p.row_reason_lv as suppression_reason_lv,
    -- a withheld row names no interval method: which method a cell's interval would have used says
    -- whether it is a small cell (the band-based interval) or a cell under 10 (found from outside)
    case when p.row_is_suppressed then null
         when p.ci_basis = 'band'
         then p.ci_method || ', from the published share and the lower end of the respondent band (a small cell)'
         else p.ci_method end as ci_method,
    case p.measure
        when 'share_all_asked' then 'visi aptaujātie ' || w.pop_lv || ', ieskaitot "grūti pateikt" un atteikumus atbildēt'
        when 'share_incl_hard_to_say' then 'aptaujātie ' || w.pop_lv || ', kas atbildēja, ieskaitot "grūti pateikt" (bez atteikumiem atbildēt)'
        when 'share_with_opinion' then w.pop_lv || ' ar viedokli (bez "grūti pateikt" un atteikumiem atbildēt)'
        else 'aptaujātie ' || w.pop_lv || ', kas atbildēja, ieskaitot "grūti pateikt" (bez atteikumiem atbildēt); skaitītājā "grūti pateikt"'
    end as denominator_lv,
    case p.measure
        when 'share_all_asked' then 'all ' || w.pop_en || ' asked, incl. "hard to say" and refusals to answer'
        when 'share_incl_hard_to_say' then w.pop_en || ' asked who answered, incl. "hard to say" (refusals excluded)'
        when 'share_with_opinion' then w.pop_en || ' with an opinion (excl. "hard to say" and refusals)'
        else w.pop_en || ' asked who answered, incl. "hard to say" (refusals excluded); numerator: "hard to say"'
    end as denominator_en
from protected as p
cross join decimals
inner join indicators on p.indicator_code = indicators.indicator_code
inner join population_words as w on p.indicator_code = w.indicator_code
left join bands on p.n_asked >= bands.band_low and (bands.band_high is null or p.n_asked <= bands.band_high)
left join names on p.geo_level = 'municipality' and p.geo_code = names.geo_code
