"""All dbt models, seeds and tests as one asset op: dbt is invoked once per run."""

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt_translator import TrustDbtTranslator
from orchestration.resources import DBT_PROJECT, WarehouseResource, ensure_dbt_manifest


@dbt_assets(
    manifest=ensure_dbt_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=TrustDbtTranslator(),
    name="dbt_build",
)
def dbt_build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    warehouse.paths  # points dbt's profile at this warehouse (TRUST_WAREHOUSE_PATH)
    yield from dbt.cli(["build"], context=context).stream()
