select * from mart_provision_per_capita
