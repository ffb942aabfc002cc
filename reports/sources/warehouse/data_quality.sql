select * from mart_data_quality
