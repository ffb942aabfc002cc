"""Ingest assets: delivered files -> raw tables of the run's working copy (ingest/ does the work).

Partitioned by delivery year (orchestration/partitions.py): a run loads the files of its year(s)
only. Every file is taken in (read once, hashed and archived; the archived copy is parsed), loaded
in its own transaction, and recorded in audit.file_loads. A delivery rejected or quarantined before
and delivered again unchanged is *held* (not read again; `make load` retries it). Every file of the
run is tried; rejections are reported together and stop the run before dbt. A landing entry that is
not a regular file (a link, a pipe, a device) and a file over a resource limit are quarantined
before anything reads them, and the run goes on with the other deliveries.

A delivery handed in through `make load` (run config `staged_*`) is read from its staging folder
and replaces what the landing folder holds for that wave or municipality-year only if the whole run
passes (orchestration/writer.py applies the landing changes, from the archived copies, when it
promotes).
"""

from pathlib import Path

from dagster import (
    AssetExecutionContext, AssetSpec, BackfillPolicy, Config, Failure, MaterializeResult, MetadataValue,
    multi_asset,
)

from ingest.errors import IngestError, NotAFile, Quarantine, printable
from ingest.file_patterns import matching_files
from ingest.intake import sha256_file, take, unsafe_entries
from ingest.landing import year_entries
from ingest.pseudonym import SAMPLE_SALT_WARNING, check_deliveries_allowed, uses_sample_salt
from ingest.warehouse import AdminItem, admin_workbooks_in, load_survey_wave, quarantine_entry, quarantine_unread, wave_folders
from ingest.warehouse import identity_of, intake_root
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
    delivered_as: dict[str, str] = {}       # staged file -> the path it was delivered as (what the audit names)
    retry_held: bool = False                # retry deliveries rejected or quarantined before


def _table(rows: list[dict]) -> MetadataValue:
    if not rows:
        return MetadataValue.md("(none)")
    cols = ["file", "status", "rows"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(printable(r.get(c, "")).replace("|", "\\|") for c in cols) + " |" for r in rows]
    return MetadataValue.md("\n".join(lines))


def run_years(context) -> set[int]:
    """The delivery years of this run: one partition, or the range of a full build."""
    return {int(k) for k in context.partition_keys}


def _refuse_non_sample_with_sample_salt(context, writer: WarehouseWriter, files: list[Path]) -> None:
    settings = writer.session.settings
    if not uses_sample_salt(settings):
        return
    context.log.warning(SAMPLE_SALT_WARNING)
    refused = check_deliveries_allowed(files, writer.session.paths.landing_dir, settings)
    if refused:
        writer.session.failure = "real deliveries with the sample pseudonym salt"
        raise Failure(description=f"refusing to load {len(refused)} file(s) that are not part of the generated sample "
                                  f"(e.g. {printable(refused[0].name)}) with the built-in sample pseudonym salt: their "
                                  "respondents could be re-identified by enumerating ids. Set TRUST_PSEUDONYM_SALT to a "
                                  "long random secret (or TRUST_PSEUDONYM_SALT_FILE to a file holding it) and run again.")


def _log_refusals(context, results: list[dict]) -> None:
    for r in results:
        if r["status"] == "held":
            context.log.warning(f"HELD {printable(r['file'])}: {r['message']}")
        elif r["status"] == "quarantined":
            context.log.error(f"QUARANTINED {r['message']}")


def _screen(con, session, kind: str, year: int, key: str, entries: list[tuple[Path, str]], retry: bool) -> list[dict]:
    """Entries that are not regular files of their own: refused by name, recorded once, never read."""
    return [quarantine_entry(con, kind, key, entry, problem, year=year, run_id=session.run_id, retry=retry)
            for entry, problem in entries]


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
    codebook. A year without a survey wave has an empty partition (admin data only). Entries that
    are not regular files, and deliveries over a resource limit, are quarantined and the run goes on."""
    session = writer.session
    paths = session.paths
    years = run_years(context)
    staged = {int(w): Path(f) for w, f in config.staged_survey.items() if int(w) in years}
    folders = wave_folders(paths.survey_landing, years - set(staged))
    for wave, folder in staged.items():
        for wf in wave_folders(folder.parent, {wave}):
            if wf.problem is not None and not isinstance(wf.problem, Quarantine):
                wf.problem.relocated(config.delivered_as)  # messages name the files as given, never staged copies
            folders.append(wf)
    results, items, unreadable = [], [], []
    with writer.connection() as con:
        for wf in folders:
            retry = config.retry_held or wf.wave in staged
            results += _screen(con, session, "survey", wf.wave, str(wf.wave), wf.unsafe, retry)
            if wf.problem is None:
                items.append(wf)
            elif isinstance(wf.problem, Quarantine):  # the codebook itself is over a limit or not a file
                results.append(_quarantine_codebook(con, session, wf, retry, config.delivered_as))
            elif not (wf.unsafe and wf.data_file is None and "found 0" in wf.problem.problem):
                unreadable.append(wf.problem)  # (a folder whose only data file is a refused entry is not this)
    _log_refusals(context, results)
    if unreadable:
        session.failure = "a wave folder cannot be read"
        raise Failure(description="\n".join(exc.describe() for exc in unreadable))
    context.log.info(f"survey waves of years {sorted(years)}: {[wf.wave for wf in sorted(items, key=lambda w: w.wave)] or 'none delivered'}")
    _refuse_non_sample_with_sample_salt(context, writer, [f for wf in items for f in wf.data_files])
    loaded, counts = _load_all(
        context, writer, sorted(items, key=lambda w: w.wave),
        lambda con, wf: load_survey_wave(con, wf.data_files, wf.codebook, run_id=session.run_id,
                                         retry=config.retry_held or wf.wave in staged,
                                         delivered_as=config.delivered_as),
        list(SURVEY_TABLES), "survey wave files",
    )
    for wave, folder in staged.items():
        done = [r for r in loaded if r.get("wave") == wave and r["status"] in ("loaded", "unchanged")]
        if done:
            _replace_in_landing(session, done[0]["taken"], folder, paths.survey_landing / str(wave))
    for table in SURVEY_TABLES:
        yield MaterializeResult(asset_key=["raw", table], metadata={"rows": counts[table], "files": _table(results + loaded)})


def _quarantine_codebook(con, session, wf, retry: bool, delivered_as: dict[str, str] | None = None) -> dict:
    """A wave whose codebook is refused before it is read (over the codebook limits, or a link):
    quarantined under the codebook's checksum (read with a bound), held after that."""
    exc, taken = wf.problem, None
    if not isinstance(exc, NotAFile):
        try:
            taken = take(Path(exc.file), intake_root(con))
        except IngestError:
            taken = None
    identity = identity_of([None, taken.sha256]) if taken else None
    exc.relocated(delivered_as or {})
    return quarantine_unread(con, "survey", str(wf.wave), exc, year=wf.wave, run_id=session.run_id, retry=retry,
                             identity=identity, taken=taken)


def _load_all(context, writer: WarehouseWriter, items: list, load_one, tables: list[str], what: str):
    """Load each file in its own transaction, logging progress. Every file is tried; rejected ones
    are collected and fail the step together, each named with its place and value; quarantined ones
    (refused before reading) are recorded and passed over."""
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
    _log_refusals(context, loaded)
    if rejected:
        lines = "\n".join(f"- {exc.describe()}" for exc in rejected)
        writer.session.failure = f"{len(rejected)} {what} rejected"
        raise Failure(description=f"{len(rejected)} of {len(items)} {what} rejected; nothing of them was loaded, "
                                  f"and the live warehouse is unchanged:\n{lines}",
                      metadata={"rejected": len(rejected), "files": len(items)})
    return loaded, counts


def _landing_changes(session, taken: list[tuple[str, str, str]], staged_folder: Path, landing_folder: Path,
                     remove: list[Path]) -> None:
    """On promotion, what a staged delivery changes in landing: its files come in, from their archived
    copies (the bytes that were loaded; the journal can be replayed from them after a kill), and the
    files it replaces go (they are in the archive). A file already there with the same contents is left
    as it is, so loading the same delivery again changes nothing."""
    placed = {}
    for source, archived, sha in taken:
        if Path(source).parent == Path(staged_folder):
            placed[Path(source).name] = (archived, sha)
    for path in remove:
        if path.name not in placed:
            session.landing_changes.append({"remove": str(path)})
    for name, (archived, sha) in sorted(placed.items()):
        target = Path(landing_folder) / name
        if target.is_file() and not target.is_symlink() and sha256_file(target) == sha:
            continue
        session.landing_changes.append({"place": archived, "to": str(target), "sha256": sha})


def _replace_in_landing(session, taken: list[tuple[str, str, str]], staged_folder: Path, landing_folder: Path) -> None:
    """On promotion, the staged wave delivery replaces the wave's files in landing (they are archived)."""
    _landing_changes(session, taken, staged_folder, landing_folder, matching_files(landing_folder, "*"))


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
    left out of the run and replaced by the staged one when the run is promoted. Entries that are not
    regular files, and workbooks over a resource limit, are quarantined and the run goes on."""
    session = writer.session
    paths = session.paths
    years = run_years(context)
    staged = [Path(f) for y, fs in config.staged_admin.items() if int(y) in years for f in fs]
    screened = []
    landing = []
    for year, folder, problem in year_entries(paths.admin_landing):
        if year not in years:
            continue
        if problem:
            screened.append((year, folder.name, [(folder, problem)]))
            continue
        screened.append((year, folder.name, unsafe_entries(folder)))
        landing += admin_workbooks_in(folder)
    context.log.info(f"admin extracts of years {sorted(years)}: {len(landing)} workbooks"
                     + (f" + {len(staged)} delivered now" if staged else ""))

    _refuse_non_sample_with_sample_salt(context, writer, staged + landing)
    with writer.connection() as con:
        refused = [r for year, key, entries in screened
                   for r in _screen(con, session, "admin", year, key, entries, config.retry_held)]
        items = [AdminItem(p, int(p.parent.name), True, shown_as=config.delivered_as.get(str(p))) for p in staged]
        items += [AdminItem(p, int(p.parent.name), config.retry_held, replaceable=bool(staged)) for p in landing]
        results, rejected = load_workbooks(
            con, items, run_id=session.run_id,
            progress=lambda i, n, r: context.log.info(f"admin extracts: {i}/{n} files read ({r} rejected)"))
        rows = con.execute("select count(*) from raw.admin_table_rows").fetchone()[0]
    _log_refusals(context, refused + results)
    for path in staged:
        done = [r for r in results if r.get("taken") and r["taken"][0][0] == str(path)
                and r["status"] in ("loaded", "unchanged")]
        if done:
            if any(r["status"] == "same_delivery" and r["key"] == done[0]["key"] for r in results):
                continue  # the landing folder holds this very workbook already: nothing to change there
            replaced = [Path(r["path"]) for r in results if r["status"] == "replaced"
                        and r["key"] == done[0]["key"]]
            _landing_changes(session, done[0]["taken"], path.parent, paths.admin_landing / path.parent.name, replaced)
    if rejected:
        session.failure = f"{len(rejected)} admin extracts rejected"
        raise Failure(description=f"{len(rejected)} of {len(items)} admin extracts rejected; nothing of them was loaded, "
                                  "and the live warehouse is unchanged:\n" + "\n".join(f"- {e.describe()}" for e in rejected),
                      metadata={"rejected": len(rejected), "files": len(items)})
    for r in results:
        if r["status"] == "same_delivery":
            context.log.info(f"{printable(r['file'])} in the landing folder is the workbook given to make load: one "
                             f"delivery for {r['key']}, read once")
    statuses = {s: sum(1 for r in results if r["status"] == s)
                for s in ("loaded", "unchanged", "held", "quarantined", "replaced", "same_delivery")}
    statuses["quarantined"] += sum(1 for r in refused if r["status"] == "quarantined")
    yield MaterializeResult(asset_key=["raw", "admin_table_rows"],
                            metadata={"rows": rows, "files": len(results), **statuses})
