-- Which wave asked which indicator's item: "not asked" must show as such, never as a dip.
select
    w.wave_year,
    w.scope,
    i.indicator_code,
    i.name_lv,
    i.name_en,
    coalesce(c.is_asked, false) as is_asked
from dim_indicator i
cross join dim_wave w
left join dim_item_wave c on c.item_code = i.item_code and c.wave_year = w.wave_year
