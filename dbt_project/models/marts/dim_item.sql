-- Harmonised items: the catalogue, plus any item a wave's codebook introduces with its own labels.
with catalogue as (
    select * from {{ ref('item_catalogue') }}
),

codebook_items as (
    select
        item_code,
        max(item_label_lv) as label_lv,
        max(item_label_en) as label_en,
        max(item_scale_code) as scale_code
    from {{ ref('stg_survey__codebook_variables') }}
    where role = 'item'
    group by item_code
),

coverage as (
    select
        item_code,
        string_agg(wave_year::varchar, ', ' order by wave_year) filter (where is_asked) as waves_asked,
        count(*) filter (where is_asked) as n_waves_asked
    from {{ ref('dim_item_wave') }}
    group by item_code
)

select
    coalesce(catalogue.item_code, codebook_items.item_code) as item_code,
    coalesce(catalogue.label_lv, codebook_items.label_lv, codebook_items.item_code) as label_lv,
    coalesce(catalogue.label_en, codebook_items.label_en, codebook_items.item_code) as label_en,
    coalesce(catalogue.scale_code, codebook_items.scale_code) as scale_code,
    catalogue.direction,
    coalesce(catalogue.scope, 'wave_specific') as scope,
    catalogue.population,
    catalogue.item_code is not null as is_in_catalogue,
    coalesce(coverage.waves_asked, '') as waves_asked,
    cast(coalesce(coverage.n_waves_asked, 0) as integer) as n_waves_asked
from catalogue
full outer join codebook_items on catalogue.item_code = codebook_items.item_code
left join coverage on coalesce(catalogue.item_code, codebook_items.item_code) = coverage.item_code
