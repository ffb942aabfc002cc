-- Municipalities of every boundary set, versioned. Each unit carries its 2021 unit (43-set) and
-- its current unit (42-set, after the 1 July 2025 merger of Varakļānu into Madonas novads), so a
-- series can always be reported on one stated boundary set.
with units_2021 as (
    select * from {{ ref('ref_municipalities_2021') }}
),

pre_reform_units as (
    select * from {{ ref('ref_municipalities_pre2021') }}
),

to_2021 as (
    select
        old_atvk_code,
        count(*) as n_successors,
        max(new_atvk_code) as any_successor_code,
        bool_or(is_split) as is_split
    from {{ ref('ref_crosswalk_2009_2021') }}
    group by old_atvk_code
),

to_2025 as (
    select * from {{ ref('ref_crosswalk_2021_2025') }}
),

units_2025 as (
    select
        to_2025.new_atvk_code as atvk_code,
        max(to_2025.new_name) as name,
        max(units_2021.unit_type) as unit_type,
        max(units_2021.stat_region_2009_2023) as stat_region_2009_2023,
        max(units_2021.nuts2016_code) as nuts2016_code,
        sum(units_2021.population) as population,
        string_agg(distinct strftime(units_2021.population_ref_date, '%Y-%m-%d'), ', '
                   order by strftime(units_2021.population_ref_date, '%Y-%m-%d')) as population_ref_dates,
        count(*) > 1 as is_merged
    from to_2025
    inner join units_2021 on to_2025.old_atvk_code = units_2021.atvk_code
    group by to_2025.new_atvk_code
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
    case when to_2021.n_successors = 1 then to_2021.any_successor_code end as municipality_code_2021,
    to_2025.new_atvk_code as current_municipality_code,
    coalesce(to_2021.is_split, false) as is_split_territory,
    cast(pre_reform_units.population_2019 as bigint) as population,
    'CSP IRD060, 2019' as population_source,
    pre_reform_units.source_file
from pre_reform_units
left join to_2021 on pre_reform_units.atvk_code = to_2021.old_atvk_code
left join to_2025 on to_2021.n_successors = 1 and to_2021.any_successor_code = to_2025.old_atvk_code

union all

select
    units_2021.atvk_code,
    'post2021_43',
    units_2021.name,
    units_2021.unit_type,
    units_2021.stat_region_2009_2023,
    units_2021.nuts2016_code,
    units_2021.valid_from,
    units_2021.valid_to,
    units_2021.atvk_code,
    to_2025.new_atvk_code,
    false,
    cast(units_2021.population as bigint),
    'CSP IRD041, ' || strftime(units_2021.population_ref_date, '%Y-%m-%d'),
    units_2021.source_file
from units_2021
left join to_2025 on units_2021.atvk_code = to_2025.old_atvk_code

union all

select
    atvk_code,
    'post2025_42',
    name,
    unit_type,
    stat_region_2009_2023,
    nuts2016_code,
    date '2025-07-01',
    cast(null as date),
    case when not is_merged then atvk_code end,
    atvk_code,
    false,
    cast(population as bigint),
    'CSP IRD041, ' || population_ref_dates || case when is_merged then ' (sum of the merged units)' else '' end,
    'ref_crosswalk_2021_2025'
from units_2025
