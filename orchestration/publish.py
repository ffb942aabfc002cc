"""Publish a snapshot of the non-disclosive marts for reports, after the quality gates passed.

Reports never read the file Dagster writes: the snapshot is a separate DuckDB file, written to
a temporary name and moved into place in one step, so a reader sees the old or the new
snapshot, never half of one. Which marts are published is data: ``meta.publish: true`` on the
model in dbt (respondent-level models say ``publish: false``).
"""

import json
import os
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
    context.log.info(f"published {len(counts)} marts to {paths.published_path}")
    return MaterializeResult(metadata={"path": str(paths.published_path), **{f"rows.{k}": v for k, v in counts.items()}})
