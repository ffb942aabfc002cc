-- LM data-table cells in long form: one row per municipality-year x indicator row x column,
-- with the delivered text, the parsed number and why a number is absent.
with table_rows as (
    select * from {{ ref('stg_admin__table_rows') }}
),

{%- set value_columns = ['total', 'women', 'men', 'age_0_17', 'age_18_24', 'age_25_54', 'age_55_64', 'age_65_79',
                         'age_80_89', 'age_90_plus', 'expenditure_eur'] %}

-- the delivered text and the number the loader read from it (ingest/numbers.py, the one parser)
parsed as (
    {%- for c in value_columns %}
    select *, '{{ c }}' as source_column, {{ c }} as cell_text, {{ c }}_value as parsed_value from table_rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    municipality_code,
    year,
    row_no,
    source_column,
    case source_column when 'women' then 'female' when 'men' then 'male' else 'total' end as sex,
    case
        when source_column like 'age\_%' escape '\'
            then replace(replace(substr(source_column, 5), '_plus', '+'), '_', '-')
        else 'total'
    end as age_band,
    case when source_column = 'expenditure_eur' then 'expenditure_eur' else 'count' end as measure,
    cell_text,
    parsed_value as value,
    case
        when cell_text is null then 'not_reported'
        when upper(trim(cell_text)) = 'X' then 'not_available'
        when parsed_value is null then 'unparseable'
        else 'available'
    end as availability,
    source_file,
    source_sheet,
    source_row_number
from parsed
