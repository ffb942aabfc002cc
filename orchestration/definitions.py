"""The one Dagster entry point: `dagster dev` and `dagster definitions validate` load this.

Graph: landing files -> raw tables (ingest) -> GE gates (blocking checks) -> dbt build
(one invocation: seeds, staging, intermediate, marts, tests) -> published snapshot -> report site.
"""
from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.dbt_assets import dbt_build
from orchestration.ingest_assets import load_admin_extracts, load_survey_waves
from orchestration.publish import report_snapshot
from orchestration.quality_checks import ge_raw_admin_extract, ge_raw_survey_wave
from orchestration.report_site import evidence_site
from orchestration.resources import make_resources

build_warehouse = define_asset_job(
    "build_warehouse",
    selection=AssetSelection.all(),
    description="Load every delivered file, gate it, build the marts, publish the snapshot, refresh reports.",
)

refresh_reports = define_asset_job(
    "refresh_reports",
    selection=AssetSelection.assets(["reports", "evidence_site"]),
    description="Rebuild the Evidence site from the current published snapshot.",
)

defs = Definitions(
    assets=[load_survey_waves, load_admin_extracts, dbt_build, report_snapshot, evidence_site],
    asset_checks=[ge_raw_survey_wave, ge_raw_admin_extract],
    jobs=[build_warehouse, refresh_reports],
    resources=make_resources(),
)
