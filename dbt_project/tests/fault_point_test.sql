-- Fault injection for the failed-run tests (ingest/faults.py): fails only with TRUST_FAULT_AT=dbt:test-failure.
select 'injected test failure (TRUST_FAULT_AT)' as reason
where '{{ env_var("TRUST_FAULT_AT", "") }}' = 'dbt:test-failure'
