-- Plain-DuckDB reference for the benchmark (tests/benchmarks/bench.py): the transformation core of
-- the marts, computed in one SQL script straight from the raw tables and the seed CSVs, with no
-- dbt, no Python models and no tests. {seeds} is replaced by the path of dbt_project/seeds.
--
-- What it computes like the pipeline: the long answers table, respondent attributes on the current
-- units, indicator cells (national / region / municipality x all / client status / sex / age band;
-- weighted shares, Kish effective n, Wilson 95 % interval on the effective n), client satisfaction,
-- admin cells unpivoted and parsed, provision per 1000 residents on the current units.
-- What it leaves out (so the pipeline does more work than this): raking of the wave without
-- weights (weight 1 here), disclosure control, Fay-Herriot small-area estimates, changes between
-- waves, correlations, dimensions with bilingual labels, and every data test.
create schema if not exists ref_bench;

create or replace table ref_bench.answers as
select c.wave as wave_year, c.respondent_source_id, v.item_code,
       try_cast(m.harmonised_value as integer) as harmonised_value,
       case when c.value_num is null then coalesce(v.blank_reason, 'system_missing') else m.missing_reason end
           as missing_reason
from raw.survey_cells c
join raw.codebook_variables v on c.wave = v.wave and c.variable = v.source_variable and v.role = 'item'
left join raw.codebook_values m
       on c.wave = m.wave and c.variable = m.source_variable and c.value_num = m.source_code;

create or replace table ref_bench.respondents as
with attrs as (
    select c.wave as wave_year, c.respondent_source_id, v.role, c.value_num, c.value_text, m.harmonised_value
    from raw.survey_cells c
    join raw.codebook_variables v on c.wave = v.wave and c.variable = v.source_variable and v.role <> 'item'
    left join raw.codebook_values m
           on c.wave = m.wave and c.variable = m.source_variable and c.value_num = m.source_code
), wide as (
    select wave_year, respondent_source_id,
           max(case when role = 'municipality_code'
               then coalesce(value_text, lpad(cast(cast(value_num as bigint) as varchar), 7, '0')) end) as muni,
           max(case when role = 'sex' then harmonised_value end) as sex,
           max(case when role = 'age' then cast(value_num as integer) end) as age_years,
           max(case when role = 'client' then cast(harmonised_value as boolean) end) as is_client,
           max(case when role = 'weight' then value_num end) as weight
    from attrs group by all
), xw09 as (
    select old_atvk_code, min(new_atvk_code) as code_2021
    from read_csv('{seeds}/reference/ref_crosswalk_2009_2021.csv', all_varchar = true) group by all
), xw21 as (
    select old_atvk_code, new_atvk_code
    from read_csv('{seeds}/reference/ref_crosswalk_2021_2025.csv', all_varchar = true)
), units21 as (
    select atvk_code, stat_region_2009_2023 as region
    from read_csv('{seeds}/reference/ref_municipalities_2021.csv', all_varchar = true)
)
select w.*, coalesce(w.weight, 1.0) as w,
       case when w.age_years < 25 then '18-24' when w.age_years < 35 then '25-34' when w.age_years < 45 then '35-44'
            when w.age_years < 55 then '45-54' when w.age_years < 65 then '55-64' when w.age_years < 75 then '65-74'
            else '75+' end as age_band,
       coalesce(xw21.new_atvk_code, case when s.boundary_set = 'post2025_42' then w.muni end) as current_code,
       u.region
from wide w
join raw.survey_waves s on s.wave = w.wave_year
left join xw09 on s.boundary_set = 'pre2021_119' and xw09.old_atvk_code = w.muni
left join xw21 on xw21.old_atvk_code = case s.boundary_set when 'pre2021_119' then xw09.code_2021
                                                           when 'post2021_43' then w.muni end
left join units21 u on u.atvk_code = coalesce(xw09.code_2021, case when s.boundary_set = 'post2021_43' then w.muni end,
                                              case when w.muni = '0038001' then '0038000' end, w.muni);

create or replace table ref_bench.indicator_cells as
with indicators as (
    select indicator_code, item_code, population,
           list_transform(string_split(numerator_values, ';'), x -> cast(x as integer)) as numerator_list
    from read_csv('{seeds}/indicators.csv', all_varchar = true)
), responses as (
    select i.indicator_code, a.wave_year, r.w, r.current_code, r.region, r.sex, r.age_band,
           case when r.is_client then 'client' else 'non_client' end as client_status, i.population,
           case when list_contains(i.numerator_list, a.harmonised_value) then 1 else 0 end as is_numerator,
           case when a.harmonised_value is not null then 1 else 0 end as has_opinion,
           case when a.missing_reason = 'hard_to_say' then 1 else 0 end as is_hard_to_say
    from ref_bench.answers a
    join indicators i on a.item_code = i.item_code
    join ref_bench.respondents r using (wave_year, respondent_source_id)
    where (a.harmonised_value is not null or a.missing_reason = 'hard_to_say')
      and (i.population <> 'clients' or r.is_client)
), geo as (
    select *, 'national' as geo_level, 'LV' as geo_code from responses
    union all select *, 'region', region from responses where region is not null
    union all select *, 'municipality', current_code from responses where current_code is not null
), sub as (
    select *, 'all' as subgroup_type, 'all' as subgroup_value from geo
    union all select *, 'client_status', client_status from geo where population = 'residents'
    union all select *, 'sex', sex from geo where sex is not null
    union all select *, 'age_band', age_band from geo where age_band is not null
), cells as (
    select indicator_code, wave_year, geo_level, geo_code, subgroup_type, subgroup_value,
           count(*) as n_unweighted, sum(w) * sum(w) / sum(w * w) as n_effective,
           sum(w * is_numerator) / sum(w) as p, sum(w * is_hard_to_say) / sum(w) as hard_to_say_share
    from sub group by all
)
select *,
       (p + 1.959964 ^ 2 / (2 * n_effective)
        - 1.959964 * sqrt(p * (1 - p) / n_effective + 1.959964 ^ 2 / (4 * n_effective ^ 2)))
       / (1 + 1.959964 ^ 2 / n_effective) as ci_low,
       (p + 1.959964 ^ 2 / (2 * n_effective)
        + 1.959964 * sqrt(p * (1 - p) / n_effective + 1.959964 ^ 2 / (4 * n_effective ^ 2)))
       / (1 + 1.959964 ^ 2 / n_effective) as ci_high
from cells;

create or replace table ref_bench.client_satisfaction as
select a.wave_year, count(*) as n_unweighted,
       sum(case when a.harmonised_value = 1 then r.w else 0 end) / sum(r.w) as share_fully,
       sum(case when a.harmonised_value = 2 then r.w else 0 end) / sum(r.w) as share_rather,
       sum(case when a.harmonised_value = 3 then r.w else 0 end) / sum(r.w) as share_rather_not,
       sum(case when a.harmonised_value = 4 then r.w else 0 end) / sum(r.w) as share_not_at_all,
       sum(case when a.missing_reason = 'hard_to_say' then r.w else 0 end) / sum(r.w) as share_hard_to_say,
       sum(case when a.harmonised_value in (1, 2) then r.w else 0 end) / sum(r.w) as top2_share
from ref_bench.answers a join ref_bench.respondents r using (wave_year, respondent_source_id)
where a.item_code = 'client_satisfaction' and r.is_client
  and (a.harmonised_value is not null or a.missing_reason = 'hard_to_say')
group by all;

create or replace table ref_bench.admin_values as
with cells as (
    select * from raw.admin_table_rows
    unpivot include nulls (cell_text for source_column in (
        total, women, men, age_0_17, age_18_24, age_25_54, age_55_64, age_65_79, age_80_89, age_90_plus,
        expenditure_eur))
)
select municipality_code, year, row_no, source_column,
       try_cast(replace(replace(replace(trim(cell_text), ' ', ''), chr(160), ''), ',', '.') as double) as value
from cells;

create or replace table ref_bench.provision_per_capita as
with xw as (
    select old_atvk_code, min(new_atvk_code) as code_2021
    from read_csv('{seeds}/reference/ref_crosswalk_2009_2021.csv', all_varchar = true) group by all
), xw21 as (
    select old_atvk_code, new_atvk_code
    from read_csv('{seeds}/reference/ref_crosswalk_2021_2025.csv', all_varchar = true)
), pop as (
    select x.new_atvk_code as current_code, sum(cast(u.population as double)) as population
    from read_csv('{seeds}/reference/ref_municipalities_2021.csv', all_varchar = true) u
    join xw21 x on x.old_atvk_code = u.atvk_code group by all
), mapped as (
    select coalesce(xw21.new_atvk_code, v.municipality_code) as current_code, v.year, v.row_no, v.value
    from ref_bench.admin_values v
    left join xw on v.year < 2021 and xw.old_atvk_code = v.municipality_code
    left join xw21 on xw21.old_atvk_code = coalesce(xw.code_2021, v.municipality_code)
    where v.source_column = 'total'
)
select m.current_code, m.year, m.row_no, sum(m.value) as value, sum(m.value) / p.population * 1000 as per_1000
from mapped m join pop p using (current_code)
group by m.current_code, m.year, m.row_no, p.population;
