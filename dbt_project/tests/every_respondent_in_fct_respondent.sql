-- Every delivered respondent reaches fct_respondent (no one lost to a missing weight, wave or unit):
-- so every answer's respondent_key is one of fct_respondent's.
select keys.n as respondents, facts.n as in_fct_respondent
from (select count(*) as n from {{ ref('int_survey__respondent_keys') }}) as keys
cross join (select count(*) as n from {{ ref('int_survey__respondents_harmonised') }}) as facts
where keys.n <> facts.n
