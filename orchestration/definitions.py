"""The one Dagster entry point: `dagster dev` and `dagster definitions validate` load this.

Graph: landing files -> raw tables of the run's working copy (ingest, partitioned by delivery
year) -> dbt build (one invocation: seeds, staging, intermediate, marts, tests) -> GE plausibility
gates on the marts (blocking) -> promotion of the working copy + published snapshot -> report site.

A run of build_warehouse executes in one process (in_process_executor): its one writer resource
(orchestration/writer.py) holds the warehouse lock and the working copy from the first step to
the last, whoever launched it (make run/load, the UI, the sensor, the schedule).

Nothing happens at import: the definitions need dbt's manifest (parsed when missing or stale), so
Dagster calls `trust_definitions` (the `@definitions` entry point) when it loads this module, and
`defs` (the tests, `pipeline.run_build`) is built on first use, once per process.
"""
from __future__ import annotations

import functools

from dagster import AssetSelection, Definitions, define_asset_job, definitions, in_process_executor

from ingest.settings import put_tools_on_path
from orchestration.automation import landing_folder_sensor, yearly_reload
from orchestration.dbt_assets import build_dbt_assets
from orchestration.ingest_assets import load_admin_extracts, load_survey_waves
from orchestration.partitions import WRITER_TAGS
from orchestration.publish import build_report_snapshot
from orchestration.quality_checks import ge_plausibility
from orchestration.report_site import evidence_site
from orchestration.resources import TrustDbtCliResource, WarehouseResource, dbt_project
from orchestration.writer import WarehouseWriter


def make_resources(data_dir: str = "") -> dict:
    return {
        "writer": WarehouseWriter(data_dir=data_dir),
        "warehouse": WarehouseResource(data_dir=data_dir),
        "dbt": TrustDbtCliResource(project_dir=dbt_project()),
    }


build_warehouse = define_asset_job(
    "build_warehouse",
    selection=AssetSelection.all(),
    tags=WRITER_TAGS,
    executor_def=in_process_executor,
    description="Load the delivered files of the run's years (one partition, or the range of all) into a working "
                "copy of the warehouse, build the marts, gate them, then promote the copy, publish the snapshot "
                "and refresh the reports. A failed or blocked run changes nothing but the audit.",
)

refresh_reports = define_asset_job(
    "refresh_reports",
    selection=AssetSelection.assets(["reports", "evidence_site"]),
    executor_def=in_process_executor,
    description="Rebuild the Evidence site from the current published snapshot.",
)

@functools.cache
def build_definitions() -> Definitions:
    """Everything Dagster shows and runs; parses the dbt project first if its manifest is missing or stale."""
    put_tools_on_path()  # dagster-dbt starts `dbt` from PATH: the project's venv may not be activated
    return Definitions(
        assets=[load_survey_waves, load_admin_extracts, build_dbt_assets(), build_report_snapshot(), evidence_site],
        asset_checks=[ge_plausibility],
        jobs=[build_warehouse, refresh_reports],
        sensors=[landing_folder_sensor],
        schedules=[yearly_reload],
        resources=make_resources(),
    )


@definitions
def trust_definitions() -> Definitions:
    """What `dagster dev -m orchestration.definitions` loads."""
    return build_definitions()


def __getattr__(name: str):
    """defs: the definitions, built on first use (not at import)."""
    if name == "defs":
        return build_definitions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
