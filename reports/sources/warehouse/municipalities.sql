-- the units in force now: the newest boundary set (never its name written here)
select municipality_code, municipality_name, region_2009_2023 as region, population, population_source
from dim_municipality
where boundary_set = (select max_by(boundary_set, valid_from) from dim_municipality)
