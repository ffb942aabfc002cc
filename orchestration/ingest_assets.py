"""Ingest assets: delivered files -> raw tables of the run's working copy (ingest/ does the work).

Partitioned by delivery year (orchestration/partitions.py): a run loads the files of its year(s)
only. Every file is archived with its checksum before it is read, loaded in its own transaction,
and recorded in audit.file_loads. A delivery rejected or quarantined before and delivered again
unchanged is *held* (not read again; `make load` retries it). Every file of the run is tried;
rejections are reported together and stop the run before dbt.

A delivery handed in through `make load` (run config `deliveries`) is read from its staging folder
and replaces what the landing folder holds for that wave or municipality-year only if the whole run
passes (orchestration/writer.py applies the landing changes when it promotes).
"""

from pathlib import Path

from dagster import (
    AssetExecutionContext, AssetSpec, BackfillPolicy, Config, Failure, MaterializeResult, MetadataValue,
    multi_asset,
)

from ingest.codebook import codebook_for_delivery
from ingest.errors import IngestError
from ingest.file_patterns import matching_files
from ingest.pseudonym import SAMPLE_SALT_WARNING, check_deliveries_allowed, uses_sample_salt
from ingest.warehouse import admin_files, load_survey_wave, survey_files
from ingest.warehouse import load_admin_extracts as load_workbooks
from orchestration.partitions import DELIVERY_YEARS, WRITER_POOL
from orchestration.writer import WarehouseWriter

SURVEY_TABLES = {
    "survey_waves": "One row per loaded wave: scope, boundary set, delivery format, file checksum.",
    "survey_cells": "Delivered survey cells, long form (respondent x variable), codes as delivered.",
    "survey_variables": "The delivered files' variable labels and user-missing codes.",
    "survey_value_labels": "The delivered files' value labels.",
    "codebook_variables": "Codebook roles of the delivered variables (ingest/codebooks/wave_<year>.yml).",
    "codebook_values": "Codebook code maps: source code -> harmonised value or missing reason.",
}


class IngestConfig(Config):
    """Set by `make load` (orchestration/cli.py); empty for runs over the landing folder."""

    staged_survey: dict[str, str] = {}      # wave -> staging folder holding the data file, code list(s), codebook
    staged_admin: dict[str, list[str]] = {}  # year -> staged workbooks
    retry_held: bool = False                # retry deliveries rejected or quarantined before


def _table(rows: list[dict]) -> MetadataValue:
    if not rows:
        return MetadataValue.md("(none)")
    cols = ["file", "status", "rows"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return MetadataValue.md("\n".join(lines))


def run_years(context) -> set[int]:
    """The delivery years of this run: one partition, or the range of a full build."""
    return {int(k) for k in context.partition_keys}


def _refuse_non_sample_with_sample_salt(context, writer: WarehouseWriter, files: list[Path]) -> None:
    if not uses_sample_salt():
        return
    context.log.warning(SAMPLE_SALT_WARNING)
    refused = check_deliveries_allowed(files, writer.session.paths.landing_dir)
    if refused:
        writer.session.failure = "real deliveries with the sample pseudonym salt"
        raise Failure(description=f"refusing to load {len(refused)} file(s) that are not part of the generated sample "
                                  f"(e.g. {refused[0].name}) with the built-in sample pseudonym salt: their respondents "
                                  "could be re-identified by enumerating ids. Set TRUST_PSEUDONYM_SALT to a long random "
                                  "secret (or TRUST_PSEUDONYM_SALT_FILE to a file holding it) and run again.")


def _load_all(context, writer: WarehouseWriter, items: list, load_one, tables: list[str], what: str):
    """Load each file in its own transaction, logging progress. Every file is tried; rejected ones
    are collected and fail the step together, each named with its place and value."""
    loaded, rejected = [], []
    with writer.connection() as con:
        for i, item in enumerate(items, 1):
            try:
                loaded.append(load_one(con, item))
            except IngestError as exc:
                rejected.append(exc)
                context.log.error(f"REJECTED {exc.describe()}")
            if i % 50 == 0 or i == len(items):
                context.log.info(f"{what}: {i}/{len(items)} files read ({len(rejected)} rejected)")
        counts = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}
    held = [r for r in loaded if r["status"] == "held"]
    for r in held:
        context.log.warning(f"HELD {r['file']}: {r['message']}")
    if rejected:
        lines = "\n".join(f"- {exc.describe()}" for exc in rejected)
        writer.session.failure = f"{len(rejected)} {what} rejected"
        raise Failure(description=f"{len(rejected)} of {len(items)} {what} rejected; nothing of them was loaded, "
                                  f"and the live warehouse is unchanged:\n{lines}",
                      metadata={"rejected": len(rejected), "files": len(items)})
    return loaded, counts


@multi_asset(
    name="load_survey_waves",
    specs=[AssetSpec(["raw", t], description=d, group_name="ingest", kinds={"duckdb", "python"})
           for t, d in SURVEY_TABLES.items()],
    partitions_def=DELIVERY_YEARS,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WRITER_POOL,
)
def load_survey_waves(context: AssetExecutionContext, writer: WarehouseWriter, config: IngestConfig):
    """Load the wave file under <landing>/survey/<wave>/ of each year of the run with that wave's
    codebook. A year without a survey wave has an empty partition (admin data only)."""
    session = writer.session
    paths = session.paths
    years = run_years(context)
    staged = {int(w): Path(f) for w, f in config.staged_survey.items() if int(w) in years}
    try:
        files = [(w, f) for w, f in survey_files(paths.survey_landing, years - set(staged))]
        for wave, folder in staged.items():
            found = survey_files(folder.parent, {wave})
            files.append(found[0])
            _replace_in_landing(session, folder, paths.survey_landing / str(wave))
    except IngestError as exc:
        session.failure = "a wave folder cannot be read"
        raise Failure(description=exc.describe()) from None
    context.log.info(f"survey waves of years {sorted(years)}: {[w for w, _ in sorted(files)] or 'none delivered'}")
    _refuse_non_sample_with_sample_salt(context, writer, [f for _, f in files])
    loaded, counts = _load_all(
        context, writer, sorted(files),
        lambda con, item: load_survey_wave(con, item[1], codebook_for_delivery(item[1].parent),
                                           run_id=session.run_id,
                                           retry=config.retry_held or item[0] in staged),
        list(SURVEY_TABLES), "survey wave files",
    )
    for table in SURVEY_TABLES:
        yield MaterializeResult(asset_key=["raw", table], metadata={"rows": counts[table], "files": _table(loaded)})


def _replace_in_landing(session, staged_folder: Path, landing_folder: Path) -> None:
    """On promotion, the staged wave delivery replaces the wave's files in landing (they are archived)."""
    session.landing_changes += [{"remove": str(p)} for p in matching_files(landing_folder, "*")]
    session.landing_changes += [{"place": str(p), "to": str(landing_folder / p.name)}
                                for p in matching_files(staged_folder, "*")]


@multi_asset(
    name="load_admin_extracts",
    specs=[AssetSpec(["raw", "admin_table_rows"], group_name="ingest", kinds={"duckdb", "python"},
                     description="LABIS/SPOLIS data-table rows, one per indicator row and municipality-year.")],
    partitions_def=DELIVERY_YEARS,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WRITER_POOL,
)
def load_admin_extracts(context: AssetExecutionContext, writer: WarehouseWriter, config: IngestConfig):
    """Load the workbooks under <landing>/admin/<year>/*.xlsx of each year of the run. A workbook
    staged by `make load` is read first; a landing workbook for the same municipality-year is then
    left out of the run and replaced by the staged one when the run is promoted."""
    session = writer.session
    paths = session.paths
    years = run_years(context)
    staged = [Path(f) for y, fs in config.staged_admin.items() if int(y) in years for f in fs]
    landing = admin_files(paths.admin_landing, years)
    seen: dict[str, str] = {}
    context.log.info(f"admin extracts of years {sorted(years)}: {len(landing)} workbooks"
                     + (f" + {len(staged)} delivered now" if staged else ""))

    _refuse_non_sample_with_sample_salt(context, writer, staged + landing)
    with writer.connection() as con:
        # a landing workbook for a municipality-year a staged one replaces is left out (and leaves landing on promotion)
        replaced = staged_keys_of(staged) if staged else set()
        items = [(p, int(p.parent.name), True) for p in staged]
        for path in landing:
            if replaced and _landing_key(con, path) in replaced:
                session.landing_changes.append({"remove": str(path)})
                continue
            items.append((path, int(path.parent.name), config.retry_held))
        results, rejected = load_workbooks(
            con, items, seen=seen, run_id=session.run_id,
            progress=lambda i, n, r: context.log.info(f"admin extracts: {i}/{n} files read ({r} rejected)"))
        rows = con.execute("select count(*) from raw.admin_table_rows").fetchone()[0]
    for r in results:
        if r["status"] == "held":
            context.log.warning(f"HELD {r['file']}: {r['message']}")
    for path in staged:
        if any(r["file"] == path.name and r["status"] == "loaded" for r in results):
            session.landing_changes.append(
                {"place": str(path), "to": str(paths.admin_landing / path.parent.name / path.name)})
    if rejected:
        session.failure = f"{len(rejected)} admin extracts rejected"
        raise Failure(description=f"{len(rejected)} of {len(items)} admin extracts rejected; nothing of them was loaded, "
                                  "and the live warehouse is unchanged:\n" + "\n".join(f"- {e.describe()}" for e in rejected),
                      metadata={"rejected": len(rejected), "files": len(items)})
    statuses = {s: sum(1 for r in results if r["status"] == s) for s in ("loaded", "unchanged", "held")}
    yield MaterializeResult(asset_key=["raw", "admin_table_rows"],
                            metadata={"rows": rows, "files": len(results), **statuses})


def staged_keys_of(staged: list[Path]) -> set[str]:
    """The municipality-years of the staged workbooks (read from their title blocks)."""
    from ingest.readers.admin_table import load_layout, read_admin_table

    keys = set()
    for path in staged:
        try:
            extract = read_admin_table(path, load_layout())
            keys.add(f"{extract.municipality_code}/{extract.year}")
        except IngestError:
            pass  # the load names the problem
    return keys


def _landing_key(con, path: Path) -> str | None:
    """The municipality-year a landing workbook holds, from the audit of its last load (no parsing)."""
    from ingest.warehouse import _current_partition_of, sha256_of

    return _current_partition_of(con, "admin", sha256_of(path))
