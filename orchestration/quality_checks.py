"""Great Expectations suites as blocking asset checks on the raw tables.

A failed suite stops everything downstream of the checked asset (dbt models, the
published snapshot, the report refresh); the reason is in the check's metadata in the
Dagster UI, in the run's output, and in audit.validation_runs / audit.validation_expectations.
A validation that crashes raises, so Dagster shows an errored check, not failed data.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey, Failure, MetadataValue, asset_check

from expectations.frames import admin_frame, survey_wave_frames
from expectations.runner import ValidationOutcome, store, validate
from ingest.warehouse import connect
from orchestration.ingest_assets import SURVEY_TABLES
from orchestration.resources import WarehouseResource


def _result(context: AssetCheckExecutionContext, outcomes: list[ValidationOutcome]) -> AssetCheckResult:
    for o in outcomes:
        (context.log.info if o.status == "passed" else context.log.error)(o.summary())
    crashed = [o for o in outcomes if o.status == "crashed"]
    if crashed:
        raise Failure(description="validation crashed (not a data failure):\n" + "\n".join(o.summary() for o in crashed))
    failed = [o for o in outcomes if o.status == "failed"]
    return AssetCheckResult(
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(f"{o.data_ref}: {o.status}" for o in outcomes),
        metadata={
            "validated": len(outcomes),
            "failed_expectations": sum(len(o.failures) for o in outcomes),
            "report": MetadataValue.md("\n\n".join(f"```\n{o.summary()}\n```" for o in outcomes)),
        },
    )


@asset_check(
    asset=AssetKey(["raw", "survey_cells"]),
    name="ge_raw_survey_wave",
    blocking=True,
    additional_deps=[AssetKey(["raw", t]) for t in SURVEY_TABLES if t != "survey_cells"],
    description="GE suite expectations/suites/raw_survey_wave.yml on every loaded wave.",
)
def ge_raw_survey_wave(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    con = connect(warehouse.paths.warehouse_path)
    try:
        outcomes = [validate("raw_survey_wave", frame) for frame in survey_wave_frames(con)]
        for o in outcomes:
            store(con, o, context.run.run_id)
    finally:
        con.close()
    return _result(context, outcomes)


@asset_check(
    asset=AssetKey(["raw", "admin_table_rows"]),
    name="ge_raw_admin_extract",
    blocking=True,
    description="GE suite expectations/suites/raw_admin_extract.yml on all loaded extracts.",
)
def ge_raw_admin_extract(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    con = connect(warehouse.paths.warehouse_path)
    try:
        outcome = validate("raw_admin_extract", admin_frame(con))
        store(con, outcome, context.run.run_id)
    finally:
        con.close()
    return _result(context, [outcome])
