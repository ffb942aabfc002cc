-- Respondents, pseudonymised, with geography and weights (intermediate/int_survey__respondents_harmonised.sql).
select * from {{ ref('int_survey__respondents_harmonised') }}
