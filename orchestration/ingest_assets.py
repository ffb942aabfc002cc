"""Ingest assets: delivered files in the landing folder -> raw tables (ingest/ does the work)."""

from dagster import AssetExecutionContext, AssetSpec, Failure, MaterializeResult, MetadataValue, multi_asset

from ingest.codebook import codebook_for_wave
from ingest.errors import IngestError
from ingest.warehouse import admin_files, connect, load_admin_extract, load_survey_wave, survey_files
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


def _load_files(context, paths, items: list, load_one, tables: list[str], what: str, where: str):
    """Load each delivered file in its own transaction, logging progress; return the per-file
    results and the row counts of the raw tables afterwards. A rejected file fails the step
    with the error that names its file, place and value."""
    if not items:
        raise Failure(description=f"no {what} found under {where}")
    con = connect(paths.warehouse_path)
    loaded = []
    try:
        for i, item in enumerate(items, 1):
            loaded.append(load_one(con, item))
            if i % 50 == 0 or i == len(items):
                context.log.info(f"{what}: {i}/{len(items)} files read, last {loaded[-1]['file']}: {loaded[-1]['status']}")
        counts = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}
    except IngestError as exc:
        raise _failure(exc) from None
    finally:
        con.close()
    return loaded, counts


@multi_asset(
    name="load_survey_waves",
    specs=[AssetSpec(["raw", t], description=d, group_name="ingest", kinds={"duckdb", "python"})
           for t, d in SURVEY_TABLES.items()],
)
def load_survey_waves(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Load every wave file under <landing>/survey/<wave>/ with that wave's codebook."""
    paths = warehouse.paths
    loaded, counts = _load_files(
        context, paths, survey_files(paths.survey_landing),
        lambda con, item: load_survey_wave(con, item[1], codebook_for_wave(item[0])),
        list(SURVEY_TABLES), "survey wave files", f"{paths.survey_landing}/<wave>/*.sav",
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
)
def load_admin_extracts(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Load every workbook under <landing>/admin/<year>/*.xlsx."""
    paths = warehouse.paths
    seen: dict[str, str] = {}
    loaded, counts = _load_files(
        context, paths, admin_files(paths.admin_landing),
        lambda con, path: load_admin_extract(con, path, seen=seen),
        ["admin_table_rows"], "admin extracts", f"{paths.admin_landing}/<year>/*.xlsx",
    )
    statuses = {s: sum(1 for r in loaded if r["status"] == s) for s in ("loaded", "unchanged")}
    yield MaterializeResult(
        asset_key=["raw", "admin_table_rows"],
        metadata={"rows": counts["admin_table_rows"], "files": len(loaded), **statuses,
                  "warehouse": str(paths.warehouse_path)},
    )
