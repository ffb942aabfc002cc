"""All dbt models, seeds and tests as one asset op: dbt is invoked once per run."""

from dagster import AssetExecutionContext, Failure
from dagster_dbt import DbtCliResource, dbt_assets

from ingest.lock import WarehouseBusy, warehouse_lock
from orchestration.dbt_translator import TrustDbtTranslator
from orchestration.partitions import WRITER_POOL
from orchestration.resources import DBT_PROJECT, WarehouseResource, ensure_dbt_manifest


@dbt_assets(
    manifest=ensure_dbt_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=TrustDbtTranslator(),
    name="dbt_build",
    pool=WRITER_POOL,
)
def dbt_build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    paths = warehouse.paths  # points dbt's profile at this warehouse (TRUST_WAREHOUSE_PATH)
    try:
        with warehouse_lock(paths.warehouse_path, f"dagster run {context.run_id[:8]}: dbt build", log=context.log.info):
            yield from dbt.cli(["build"], context=context).stream()
    except WarehouseBusy as exc:
        raise Failure(description=str(exc)) from None
