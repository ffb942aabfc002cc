"""Statistical estimation used by the dbt Python models (plain numpy, no Dagster or dbt imports)."""
