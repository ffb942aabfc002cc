"""Promote the run's working copy, then publish a snapshot of the non-disclosive marts for reports.

This step runs only when every gate passed (the checks on the marts are blocking). It makes the
working copy the live warehouse (orchestration/writer.py) and writes the snapshot from it
(orchestration/snapshot.py). Which marts are published is data: ``meta.publish: true`` on the model
in dbt, read from dbt's manifest when the definitions are built (`build_report_snapshot`), never at
import: `PUBLISHED`, `PUBLISH_EXCLUDE` and `report_snapshot` are made on first use.
"""

import functools
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from orchestration.partitions import WRITER_POOL
from orchestration.resources import ensure_dbt_manifest
from orchestration.snapshot import (  # noqa: F401 (re-exported: the snapshot's contents)
    QUALITY_COLUMN_COMMENTS, QUALITY_COMMENTS, QUALITY_DATA_TABLES, QUALITY_TABLES, catalog_name, excluded_columns,
    publish_snapshot, published_models, refresh_quality_status, sql_literal,
)
from orchestration.writer import WarehouseWriter


@functools.cache
def published(manifest: Path | None = None) -> "tuple[list[tuple[str, str]], dict[str, list[str]]]":
    """(the published marts as (schema, name), the columns each leaves out) from dbt's manifest."""
    manifest = manifest or ensure_dbt_manifest()
    return published_models(manifest), excluded_columns(manifest)


def build_report_snapshot(manifest: "Path | None" = None) -> AssetsDefinition:
    tables, exclude = published(manifest)

    @asset(
        key=["publish", "report_snapshot"],
        deps=[AssetKey([schema, name]) for schema, name in tables],
        group_name="publish",
        kinds={"duckdb"},
        description="Promotes the run's working copy to the live warehouse (every gate passed), then writes the "
                    "snapshot of the published marts (meta.publish: true) that reports and outside users read.",
        pool=WRITER_POOL,
    )
    def report_snapshot(context: AssetExecutionContext, writer: WarehouseWriter) -> MaterializeResult:
        paths = writer.session.paths
        writer.promote()
        context.log.info(f"promoted the run's working copy to {paths.warehouse_path}")
        counts = publish_snapshot(paths.warehouse_path, paths.published_path, tables, context.run.run_id, exclude)
        context.log.info(f"published {len(counts)} marts to {paths.published_path}")
        return MaterializeResult(metadata={"path": str(paths.published_path),
                                           **{f"rows.{k}": v for k, v in counts.items()}})

    return report_snapshot


def __getattr__(name: str):
    """PUBLISHED, PUBLISH_EXCLUDE: made from dbt's manifest on first use, not at import."""
    if name == "PUBLISHED":
        return published()[0]
    if name == "PUBLISH_EXCLUDE":
        return published()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
