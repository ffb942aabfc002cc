select * from mart_trust_comparisons
