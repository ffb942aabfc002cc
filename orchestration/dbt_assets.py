"""All dbt models, seeds and tests as one asset op: dbt is invoked once per run.

dbt builds on a working copy of the warehouse, which replaces the warehouse in one step
(os.replace) when dbt has finished. A run killed while dbt is building leaves the warehouse's
marts exactly as they were; the leftover copy is removed by the next build.
"""
import json
import os
import shutil
from pathlib import Path

import duckdb
from dagster import AssetExecutionContext, Failure
from dagster_dbt import DbtCliResource, dbt_assets

from ingest.faults import checkpoint
from ingest.lock import WarehouseBusy, warehouse_lock
from orchestration.dbt_translator import TrustDbtTranslator
from orchestration.partitions import WRITER_POOL
from orchestration.resources import DBT_PROJECT, WarehouseResource, ensure_dbt_manifest


def _working_copy(warehouse_path: Path, run_id: str) -> Path:
    for leftover in warehouse_path.parent.glob(warehouse_path.name + ".build-*"):
        leftover.unlink()  # from a build that was killed: never swapped in, safe to drop
    work = warehouse_path.with_name(f"{warehouse_path.name}.build-{run_id[:8]}")
    shutil.copyfile(warehouse_path, work)
    return work


def _swap_in(work: Path, warehouse_path: Path) -> None:
    con = duckdb.connect(str(work))
    con.execute("checkpoint")  # everything in the main file, no write-ahead log left behind
    con.close()
    Path(str(work) + ".wal").unlink(missing_ok=True)
    os.replace(work, warehouse_path)


def dbt_build_args(run_tags) -> list[str]:
    """One delivery year: the wave-incremental models rebuild only that wave (macros/wave_scope.sql).
    Every other run (all years, or no partition): a full rebuild."""
    year = run_tags.get("dagster/partition")
    if year and year.isdigit():
        return ["build", "--vars", json.dumps({"waves": [int(year)]})]
    return ["build", "--full-refresh"]


@dbt_assets(
    manifest=ensure_dbt_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=TrustDbtTranslator(),
    name="dbt_build",
    pool=WRITER_POOL,
)
def dbt_build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    paths = warehouse.paths
    try:
        with warehouse_lock(paths.warehouse_path, f"dagster run {context.run.run_id[:8]}: dbt build", log=context.log.info):
            work = _working_copy(paths.warehouse_path, context.run.run_id)
            os.environ["TRUST_WAREHOUSE_PATH"] = str(work)  # dbt_project/profiles.yml reads this
            try:
                invocation = dbt.cli(dbt_build_args(context.run.tags), context=context, raise_on_error=False)
                yield from invocation.stream()
            finally:
                os.environ["TRUST_WAREHOUSE_PATH"] = str(paths.warehouse_path)
            checkpoint("dbt:built")
            _swap_in(work, paths.warehouse_path)  # also after failed tests: what dbt built is kept, as dbt would
            if not invocation.is_successful():
                raise Failure(description="dbt build failed: see the failed models and tests in this step's log")
    except WarehouseBusy as exc:
        raise Failure(description=str(exc)) from None
