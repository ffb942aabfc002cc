select * from mart_indicator_estimates
