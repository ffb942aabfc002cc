-- Which items each wave asked (intermediate/int_item_waves.sql).
select * from {{ ref('int_item_waves') }}
