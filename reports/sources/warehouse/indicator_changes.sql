select * from mart_indicator_changes
