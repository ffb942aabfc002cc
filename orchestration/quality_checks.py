"""Great Expectations suites as blocking asset checks, on the raw tables and on the published marts.

A failed suite stops everything downstream of the checked asset: a raw gate stops dbt (and so
the marts, the snapshot and the report refresh); a mart gate stops the published snapshot and
the report refresh, so reports keep the last good snapshot. The reason is in the check's
metadata in the Dagster UI, in the run's output, in audit.validation_runs /
audit.validation_expectations and in GE's Data Docs (data/quality/gx/uncommitted/data_docs/).
A validation that crashes raises, so Dagster shows an errored check, not failed data.
"""

from dagster import (
    AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey, Failure, MetadataValue, asset_check,
)

from expectations import frames as F
from expectations.runner import ValidationOutcome, data_docs_index, store, validate
from ingest.faults import checkpoint
from ingest.lock import WarehouseBusy, warehouse_lock
from ingest.warehouse import connect
from orchestration.ingest_assets import SURVEY_TABLES
from orchestration.partitions import WRITER_POOL
from orchestration.resources import WarehouseResource


def _run_years(context: AssetCheckExecutionContext) -> set[int] | None:
    """The delivery years of this run (None: the check runs outside a partitioned run)."""
    try:
        return {int(k) for k in context.op_execution_context.partition_keys}
    except Exception:
        return None


def _validate_and_store(context, warehouse: WarehouseResource, make_jobs) -> list[ValidationOutcome]:
    """Validate [(suite, frame builder)] on the warehouse; store each outcome in the warehouse's
    audit tables and GE's Data Docs; return the outcomes."""
    paths = warehouse.paths
    try:
        with warehouse_lock(paths.warehouse_path, f"dagster run {context.run.run_id[:8]}: validation",
                            log=context.log.info):
            con = connect(paths.warehouse_path)
            try:
                outcomes = []
                for suite, build in make_jobs(con):
                    frames = build()
                    for frame in frames if isinstance(frames, list) else [frames]:
                        outcomes.append(validate(suite, frame, docs_root=paths.quality_dir))
                checkpoint("check:before-store")
                for o in outcomes:
                    store(con, o, context.run.run_id)
            finally:
                con.close()
    except WarehouseBusy as exc:
        raise Failure(description=str(exc)) from None
    return outcomes


def _result(context: AssetCheckExecutionContext, outcomes: list[ValidationOutcome], docs) -> AssetCheckResult:
    for o in outcomes:
        (context.log.info if o.status == "passed" else context.log.error)(o.summary())
    crashed = [o for o in outcomes if o.status == "crashed"]
    if crashed:
        raise Failure(description="validation crashed (not a data failure):\n" + "\n".join(o.summary() for o in crashed))
    failed = [o for o in outcomes if o.status == "failed"]
    return AssetCheckResult(
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(f"{o.data_ref}: {o.status}" for o in outcomes) or "nothing to validate in this run",
        metadata={
            "validated": len(outcomes),
            "failed_expectations": sum(len(o.failures) for o in outcomes),
            "report": MetadataValue.md("\n\n".join(f"```\n{o.summary()}\n```" for o in outcomes)),
            "data_docs": MetadataValue.path(str(docs)),
        },
    )


@asset_check(
    asset=AssetKey(["raw", "survey_cells"]),
    name="ge_raw_survey_wave",
    blocking=True,
    additional_deps=[AssetKey(["raw", t]) for t in SURVEY_TABLES if t != "survey_cells"],
    description="GE suite expectations/suites/raw_survey_wave.yml on each wave loaded in this run.",
    pool=WRITER_POOL,
)
def ge_raw_survey_wave(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    years = _run_years(context)
    outcomes = _validate_and_store(context, warehouse, lambda con: [
        ("raw_survey_wave", lambda: F.survey_wave_frames(con, years))])
    return _result(context, outcomes, data_docs_index(warehouse.paths.quality_dir))


@asset_check(
    asset=AssetKey(["raw", "admin_table_rows"]),
    name="ge_raw_admin_extract",
    blocking=True,
    description="GE suite expectations/suites/raw_admin_extract.yml on the extracts of the years in this run.",
    pool=WRITER_POOL,
)
def ge_raw_admin_extract(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    years = _run_years(context)
    outcomes = _validate_and_store(context, warehouse, lambda con: [
        ("raw_admin_extract", lambda: F.admin_frame(con, years))])
    return _result(context, outcomes, data_docs_index(warehouse.paths.quality_dir))


def _mart_check(mart: str, suites, deps: list[str], description: str):
    @asset_check(
        asset=AssetKey(["marts", mart]),
        name=f"ge_{mart}",
        blocking=True,
        additional_deps=[AssetKey(["marts", d]) for d in deps],
        description=description,
        pool=WRITER_POOL,
    )
    def _check(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        outcomes = _validate_and_store(context, warehouse, suites)
        return _result(context, outcomes, data_docs_index(warehouse.paths.quality_dir))

    return _check


def _provision_suites(con):
    per_row, per_year = F.provision_frames(con)
    return [("mart_provision_per_capita", lambda: per_row), ("mart_provision_by_year", lambda: per_year)]


MART_CHECKS = [
    _mart_check("mart_indicator_estimates",
                lambda con: [("mart_indicator_estimates", lambda: F.mart_indicator_estimates_frame(con)),
                             ("mart_wave_changes", lambda: F.wave_changes_frame(con))],
                ["dim_wave"],
                "GE suites mart_indicator_estimates.yml (ranges, uniqueness, intervals, suppression) and "
                "mart_wave_changes.yml (respondents and 'hard to say' share against the previous wave)."),
    _mart_check("mart_provision_per_capita", _provision_suites, ["dim_municipality"],
                "GE suites mart_provision_per_capita.yml and mart_provision_by_year.yml (one row per "
                "municipality-year, non-negative rates, every current unit every year)."),
    _mart_check("mart_client_satisfaction",
                lambda con: [("mart_client_satisfaction", lambda: F.client_satisfaction_frame(con))], [],
                "GE suite mart_client_satisfaction.yml (shares in 0-1 that sum to 1, one row per wave)."),
]
RAW_CHECKS = [ge_raw_survey_wave, ge_raw_admin_extract]
