-- Service provision per capita on the current units (intermediate/int_provision__per_capita.sql).
select * from {{ ref('int_provision__per_capita') }}
