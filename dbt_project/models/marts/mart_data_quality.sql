-- The latest quality-gate result per suite and data (source and wave), with what failed.
with runs as (
    select *,
        row_number() over (partition by suite, data_ref order by validated_at desc) as rn
    from {{ source('audit', 'validation_runs') }}
),

failures as (
    select
        validation_id,
        string_agg(coalesce(column_name || ': ', '') || expectation_type
                   || coalesce(' (' || why || ')', ''), '; ') as failed_expectations
    from {{ source('audit', 'validation_expectations') }}
    where crashed or not success
    group by validation_id
)

select
    runs.suite,
    runs.data_ref,
    runs.partition_key,
    runs.status,
    runs.n_expectations,
    runs.n_failed,
    failures.failed_expectations,
    runs.status <> 'passed' as blocked_downstream,
    runs.validated_at,
    runs.gx_version
from runs
left join failures on runs.validation_id = failures.validation_id
where runs.rn = 1
