select municipality_code, municipality_name, region_2009_2023 as region, population, population_source
from dim_municipality
where boundary_set = 'post2025_42'
