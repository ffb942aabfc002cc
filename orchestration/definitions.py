"""The one Dagster entry point: `dagster dev` and `dagster definitions validate` load this.

Graph: landing files -> raw tables (ingest, partitioned by delivery year) -> GE gates (blocking
checks) -> dbt build (one invocation: seeds, staging, intermediate, marts, tests) -> GE gates on
the published marts (blocking) -> published snapshot -> report site.
"""
from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.automation import landing_folder_sensor, quality_status_after_failure, yearly_reload
from orchestration.dbt_assets import dbt_build
from orchestration.ingest_assets import load_admin_extracts, load_survey_waves
from orchestration.partitions import WRITER_TAGS
from orchestration.publish import report_snapshot
from orchestration.quality_checks import MART_CHECKS, RAW_CHECKS
from orchestration.report_site import evidence_site
from orchestration.resources import make_resources

build_warehouse = define_asset_job(
    "build_warehouse",
    selection=AssetSelection.all(),
    tags=WRITER_TAGS,
    description="Load the delivered files of the run's years (one partition, or the range of all), gate them, "
                "build the marts, gate the published marts, publish the snapshot, refresh reports.",
)

refresh_reports = define_asset_job(
    "refresh_reports",
    selection=AssetSelection.assets(["reports", "evidence_site"]),
    description="Rebuild the Evidence site from the current published snapshot.",
)

defs = Definitions(
    assets=[load_survey_waves, load_admin_extracts, dbt_build, report_snapshot, evidence_site],
    asset_checks=[*RAW_CHECKS, *MART_CHECKS],
    jobs=[build_warehouse, refresh_reports],
    sensors=[landing_folder_sensor, quality_status_after_failure],
    schedules=[yearly_reload],
    resources=make_resources(),
)
