-- Municipalities of every boundary set, versioned (built in intermediate/int_municipalities.sql).
select * from {{ ref('int_municipalities') }}
