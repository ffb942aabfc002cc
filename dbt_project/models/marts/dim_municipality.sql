-- Municipalities of every boundary set, versioned; pre-reform units carry their current successor.
with current_units as (
    select * from {{ ref('ref_municipalities_2021') }}
),

pre_reform_units as (
    select * from {{ ref('ref_municipalities_pre2021') }}
),

crosswalk as (
    select
        old_atvk_code,
        count(*) as n_successors,
        max(new_atvk_code) as any_successor_code,
        bool_or(is_split) as is_split
    from {{ ref('ref_crosswalk_2009_2021') }}
    group by old_atvk_code
)

select
    pre_reform_units.atvk_code as municipality_code,
    'pre2021_119' as boundary_set,
    pre_reform_units.name as municipality_name,
    pre_reform_units.unit_type,
    pre_reform_units.stat_region_2009_2023 as region_2009_2023,
    pre_reform_units.nuts2016_code,
    pre_reform_units.valid_from,
    pre_reform_units.valid_to,
    case when crosswalk.n_successors = 1 then crosswalk.any_successor_code end as current_municipality_code,
    coalesce(crosswalk.is_split, false) as is_split_territory,
    cast(pre_reform_units.population_2019 as bigint) as population,
    'CSP IRD060, 2019' as population_source,
    pre_reform_units.source_file
from pre_reform_units
left join crosswalk on pre_reform_units.atvk_code = crosswalk.old_atvk_code

union all

select
    atvk_code as municipality_code,
    'post2021_43' as boundary_set,
    name as municipality_name,
    unit_type,
    stat_region_2009_2023 as region_2009_2023,
    nuts2016_code,
    valid_from,
    valid_to,
    atvk_code as current_municipality_code,
    false as is_split_territory,
    cast(population as bigint) as population,
    'CSP IRD041, ' || strftime(population_ref_date, '%Y-%m-%d') as population_source,
    source_file
from current_units
