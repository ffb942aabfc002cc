-- Admin figures converted to the current 42 units, for every year: pre-reform units through the
-- 2009->2021 crosswalk and 2021 units through the 2025 merger, summed. The split Aglonas novads is
-- allocated to Preiļu and Krāslavas novads by the shares of seed ref_split_allocation (flagged).
with cell_values as (
    select * from {{ ref('int_admin__provision') }}
    where availability = 'available'
),

municipalities as (
    select * from {{ ref('int_municipalities') }}
),

split as (
    select
        allocation.old_atvk_code,
        allocation.share,
        successor.current_municipality_code
    from {{ ref('ref_split_allocation') }} as allocation
    inner join municipalities as successor
        on allocation.new_atvk_code = successor.municipality_code and successor.boundary_set = {{ boundary_set_valid_on('2021-07-01') }}
),

mapped as (
    select
        coalesce(municipalities.current_municipality_code, split.current_municipality_code) as municipality_code,
        cell_values.year,
        cell_values.row_no,
        cell_values.indicator_code,
        cell_values.source_column,
        cell_values.measure,
        -- decimals: the sums below are exact, whatever order a build adds the rows in
        cast(cell_values.value as decimal(24, 4)) * cast(coalesce(split.share, 1.0) as decimal(10, 8)) as value,
        split.share is not null as is_split_allocation,
        cell_values.municipality_code as source_municipality_code
    from cell_values
    inner join municipalities
        on cell_values.municipality_code = municipalities.municipality_code
        and cell_values.boundary_set = municipalities.boundary_set
    left join split
        on municipalities.current_municipality_code is null
        and cell_values.municipality_code = split.old_atvk_code
)

select
    municipality_code,
    year,
    row_no,
    indicator_code,
    source_column,
    measure,
    sum(value) as value,
    bool_or(is_split_allocation) as includes_split_allocation,
    count(distinct source_municipality_code) as n_source_units
from mapped
group by all
