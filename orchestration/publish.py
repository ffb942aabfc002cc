"""Publish a snapshot of the non-disclosive marts for reports, after the quality gates passed.

Reports never read the file Dagster writes: the snapshot is a separate DuckDB file, written to
a temporary name and moved into place in one step, so a reader sees the old or the new
snapshot, never half of one. Which marts are published is data: ``meta.publish: true`` on the
model in dbt (respondent-level models say ``publish: false``).
"""

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from ingest.lock import warehouse_lock
from orchestration.partitions import WRITER_POOL
from orchestration.resources import WarehouseResource, ensure_dbt_manifest


def published_models(manifest_path: Path) -> list[tuple[str, str]]:
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and (node["config"].get("meta") or {}).get("publish") is True:
            found.append((node["config"].get("schema") or node["schema"], node["name"]))
    return sorted(found)


def publish_snapshot(warehouse_path: Path, published_path: Path, tables: list[tuple[str, str]],
                     run_id: str | None = None) -> dict:
    published_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = published_path.with_name(published_path.name + ".tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    counts = {}
    try:
        con.execute(f"attach '{warehouse_path}' as wh (read_only)")
        for schema, name in tables:
            con.execute(f'create table main."{name}" as select * from wh."{schema}"."{name}"')
            counts[name] = con.execute(f'select count(*) from main."{name}"').fetchone()[0]
        con.execute(
            "create table main._snapshot_info as select ?::timestamptz as published_at, ? as run_id, "
            "? as source_warehouse, ? as tables",
            [datetime.now(timezone.utc), run_id, str(warehouse_path), ",".join(n for _, n in tables)],
        )
        con.execute("detach wh")
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, published_path)
    return counts


# The current gate status, refreshed in the snapshot on every run, also when a gate blocked the
# marts: the report's data-quality page shows what was blocked while the marts stay the last good ones.
QUALITY_TABLES = {
    "quality_status": """
        with runs as (
            select *, row_number() over (partition by suite, data_ref order by validated_at desc) as rn
            from wh.audit.validation_runs
        ), failures as (
            select validation_id,
                   string_agg(coalesce(column_name || ': ', '') || expectation_type
                              || coalesce(' (' || why || ')', ''), '; ') as failed_expectations
            from wh.audit.validation_expectations where crashed or not success group by validation_id
        )
        select runs.suite, runs.data_ref, runs.partition_key, runs.status, runs.n_expectations, runs.n_failed,
               failures.failed_expectations, runs.status <> 'passed' as blocked_downstream, runs.validated_at,
               runs.run_id
        from runs left join failures using (validation_id) where runs.rn = 1""",
    "quality_file_loads": """
        select source_kind, partition_key, file_name, sha256, status, message, rows_loaded, loaded_at
        from wh.audit.file_loads
        where status = 'rejected' or loaded_at >= (select max(loaded_at) from wh.audit.file_loads) - interval 30 day""",
}


def refresh_quality_status(warehouse_path: Path, published_path: Path) -> bool:
    """Replace the quality tables of the published snapshot with the warehouse's current audit
    (copy, change, move into place: readers never see half a snapshot). The marts are not touched.
    Returns False when there is no snapshot yet."""
    if not published_path.exists() or not warehouse_path.exists():
        return False
    tmp = published_path.with_name(published_path.name + ".quality.tmp")
    shutil.copyfile(published_path, tmp)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"attach '{warehouse_path}' as wh (read_only)")
        for name, sql in QUALITY_TABLES.items():
            con.execute(f"create or replace table main.{name} as {sql}")
        con.execute("create or replace table main._quality_info as select ?::timestamptz as refreshed_at",
                    [datetime.now(timezone.utc)])
        con.execute("detach wh")
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, published_path)
    return True


PUBLISHED = published_models(ensure_dbt_manifest())


@asset(
    key=["publish", "report_snapshot"],
    deps=[AssetKey([schema, name]) for schema, name in PUBLISHED],
    group_name="publish",
    kinds={"duckdb"},
    description="Snapshot of the published marts (meta.publish: true) that reports and outside users read.",
    pool=WRITER_POOL,
)
def report_snapshot(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    paths = warehouse.paths
    with warehouse_lock(paths.warehouse_path, f"dagster run {context.run.run_id[:8]}: publish", log=context.log.info):
        counts = publish_snapshot(paths.warehouse_path, paths.published_path, PUBLISHED, context.run.run_id)
        refresh_quality_status(paths.warehouse_path, paths.published_path)
    context.log.info(f"published {len(counts)} marts to {paths.published_path}")
    return MaterializeResult(metadata={"path": str(paths.published_path), **{f"rows.{k}": v for k, v in counts.items()}})
