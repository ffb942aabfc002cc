-- The indicator catalogue as published: what each indicator counts, over whom, in which waves.
select
    indicators.indicator_code,
    indicators.name_lv,
    indicators.name_en,
    indicators.item_code,
    indicators.numerator_values,
    indicators.population,
    indicators.scope,
    items.label_lv as item_label_lv,
    items.label_en as item_label_en,
    items.waves_asked
from {{ ref('indicators') }} as indicators
left join {{ ref('dim_item') }} as items on indicators.item_code = items.item_code
