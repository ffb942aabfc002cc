-- LABIS/SPOLIS figures as delivered, per municipality x year x indicator x column (intermediate/int_admin__provision.sql).
select * from {{ ref('int_admin__provision') }}
