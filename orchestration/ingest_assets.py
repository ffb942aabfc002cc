"""Ingest assets: delivered files in the landing folder -> raw tables (ingest/ does the work).

Partitioned by delivery year (orchestration/partitions.py): a run loads the files of its
year(s) only. Every file is archived with its checksum before it is read, loaded in its own
transaction, and recorded in audit.file_loads; the warehouse lock keeps other writers out.
"""

from dagster import (
    AssetExecutionContext, AssetSpec, BackfillPolicy, Failure, MaterializeResult, MetadataValue, multi_asset,
)

from ingest.codebook import codebook_for_delivery
from ingest.errors import IngestError
from ingest.lock import WarehouseBusy, warehouse_lock
from ingest.warehouse import admin_files, connect, load_admin_extract, load_survey_wave, survey_files
from orchestration.partitions import DELIVERY_YEARS, WRITER_POOL
from orchestration.resources import WarehouseResource

SURVEY_TABLES = {
    "survey_waves": "One row per loaded wave: scope, boundary set, delivery format, file checksum.",
    "survey_cells": "Delivered survey cells, long form (respondent x variable), codes as delivered.",
    "survey_variables": "The delivered files' variable labels and user-missing codes.",
    "survey_value_labels": "The delivered files' value labels.",
    "codebook_variables": "Codebook roles of the delivered variables (ingest/codebooks/wave_<year>.yml).",
    "codebook_values": "Codebook code maps: source code -> harmonised value or missing reason.",
}


def _failure(exc: IngestError) -> Failure:
    return Failure(
        description=exc.describe(),
        metadata={"file": exc.file, "row": str(exc.row), "column": str(exc.column), "value": repr(exc.value)},
    )


def _table(rows: list[dict]) -> MetadataValue:
    if not rows:
        return MetadataValue.md("(none)")
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return MetadataValue.md("\n".join(lines))


def run_years(context) -> set[int]:
    """The delivery years of this run: one partition, or the range of a full build."""
    return {int(k) for k in context.partition_keys}


def _load_files(context, paths, items: list, load_one, tables: list[str], what: str):
    """Load each delivered file in its own transaction, logging progress; return the per-file
    results and the row counts of the raw tables afterwards. A rejected file fails the step
    with the error that names its file, place and value."""
    loaded = []
    try:
        with warehouse_lock(paths.warehouse_path, f"dagster run {context.run.run_id[:8]}: {what}", log=context.log.info):
            con = connect(paths.warehouse_path)
            try:
                for i, item in enumerate(items, 1):
                    loaded.append(load_one(con, item))
                    if i % 50 == 0 or i == len(items):
                        context.log.info(f"{what}: {i}/{len(items)} files read, "
                                         f"last {loaded[-1]['file']}: {loaded[-1]['status']}")
                counts = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}
            finally:
                con.close()
    except IngestError as exc:
        raise _failure(exc) from None
    except WarehouseBusy as exc:
        raise Failure(description=str(exc)) from None
    return loaded, counts


@multi_asset(
    name="load_survey_waves",
    specs=[AssetSpec(["raw", t], description=d, group_name="ingest", kinds={"duckdb", "python"})
           for t, d in SURVEY_TABLES.items()],
    partitions_def=DELIVERY_YEARS,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WRITER_POOL,
)
def load_survey_waves(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Load the wave file under <landing>/survey/<wave>/ of each year of the run with that wave's
    codebook. A year without a survey wave has an empty partition (admin data only)."""
    paths = warehouse.paths
    years = run_years(context)
    try:
        files = survey_files(paths.survey_landing, years)
    except IngestError as exc:
        raise _failure(exc) from None
    context.log.info(f"survey waves of years {sorted(years)}: {[w for w, _ in files] or 'none delivered'}")
    loaded, counts = _load_files(
        context, paths, files,
        lambda con, item: load_survey_wave(con, item[1], codebook_for_delivery(item[1].parent)),
        list(SURVEY_TABLES), "survey wave files",
    )
    for table in SURVEY_TABLES:
        yield MaterializeResult(
            asset_key=["raw", table],
            metadata={"rows": counts[table], "files": _table(loaded), "warehouse": str(paths.warehouse_path)},
        )


@multi_asset(
    name="load_admin_extracts",
    specs=[AssetSpec(["raw", "admin_table_rows"], group_name="ingest", kinds={"duckdb", "python"},
                     description="LABIS/SPOLIS data-table rows, one per indicator row and municipality-year.")],
    partitions_def=DELIVERY_YEARS,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WRITER_POOL,
)
def load_admin_extracts(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Load the workbooks under <landing>/admin/<year>/*.xlsx of each year of the run."""
    paths = warehouse.paths
    years = run_years(context)
    seen: dict[str, str] = {}
    files = admin_files(paths.admin_landing, years)
    context.log.info(f"admin extracts of years {sorted(years)}: {len(files)} workbooks")
    loaded, counts = _load_files(
        context, paths, files,
        lambda con, path: load_admin_extract(con, path, seen=seen, expected_year=int(path.parent.name)),
        ["admin_table_rows"], "admin extracts",
    )
    statuses = {s: sum(1 for r in loaded if r["status"] == s) for s in ("loaded", "unchanged")}
    yield MaterializeResult(
        asset_key=["raw", "admin_table_rows"],
        metadata={"rows": counts["admin_table_rows"], "files": len(loaded), **statuses,
                  "warehouse": str(paths.warehouse_path)},
    )
