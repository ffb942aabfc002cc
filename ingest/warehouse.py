"""Load delivered files into the DuckDB warehouse's raw tables, with an audit row per file.

Each file is loaded in one transaction that replaces what the same wave (or
municipality-year) held before, so a reload is idempotent and a failure
leaves the raw tables as they were. A file whose checksum is already loaded
for the same wave changes nothing and is recorded as 'unchanged'.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from ingest import audit_notes
from ingest.archive import archive_root
from ingest.checksums import sha256_of  # noqa: F401 (re-exported: the loader's and the sensor's name)
from ingest.codebook import Codebook, codebook_for_delivery, load_codebook
from ingest.errors import Incomplete, IngestError, Quarantine, printable, public_text
from ingest.errors import shown as shown_value
from ingest.faults import checkpoint
from ingest.file_patterns import matching_files
from ingest.intake import Taken, entry_identity, not_a_file, sha256_file, take, unsafe_entries
from ingest.landing import year_entries
from ingest.municipalities import boundary_set_of_report_year  # noqa: F401 (re-exported)
from ingest.municipalities import known_municipality_codes, resolve_codes  # noqa: F401 (re-exported)
from ingest.readers.admin_table import AdminExtract, load_layout, parse_number, read_admin_table
from ingest.settings import read_seed
from ingest.survey.load import load_wave


DDL = """
create schema if not exists raw;
create schema if not exists audit;

create table if not exists audit.file_loads (
    load_id varchar not null,
    source_kind varchar not null,          -- survey | admin
    partition_key varchar not null,        -- wave year, or <atvk>/<year> for admin
    file_name varchar not null,
    file_path varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    rows_loaded bigint,
    status varchar not null,               -- see LOAD_STATUSES
    message varchar,
    loaded_at timestamptz not null
);
alter table audit.file_loads add column if not exists archive_path varchar;
-- the delivery's identity: a survey wave is its data file + codebook + code list(s); an extract its file
alter table audit.file_loads add column if not exists delivery_sha256 varchar;
alter table audit.file_loads add column if not exists delivery_year integer;
alter table audit.file_loads add column if not exists run_id varchar;
-- what may be published about the attempt: words only, no delivered value, name or path
alter table audit.file_loads add column if not exists public_message varchar;

create table if not exists audit.validation_runs (
    validation_id varchar not null, run_id varchar, suite varchar not null, data_ref varchar not null,
    partition_key varchar not null, status varchar not null, n_expectations integer not null,
    n_failed integer not null, error varchar, gx_version varchar, validated_at timestamptz not null
);
create table if not exists audit.validation_expectations (
    validation_id varchar not null, expectation_type varchar not null, column_name varchar,
    success boolean, crashed boolean not null, observed varchar, unexpected_count bigint,
    unexpected_examples varchar, why varchar, error varchar
);

create table if not exists raw.survey_waves (
    wave integer not null, load_id varchar not null, source_file varchar not null, sha256 varchar not null,
    scope varchar not null, delivery_format varchar not null, boundary_set varchar not null,
    age_min integer not null, age_max integer not null, n_respondents integer not null,
    has_weight boolean not null, title_lv varchar, title_en varchar, codebook_file varchar not null
);
create table if not exists raw.survey_cells (
    wave integer not null, load_id varchar not null, row_number integer not null,
    respondent_source_id varchar not null, variable varchar not null,
    value_num double, value_text varchar
);
create table if not exists raw.survey_variables (
    wave integer not null, load_id varchar not null, variable varchar not null, position integer not null,
    label varchar, var_type varchar not null, user_missing varchar
);
create table if not exists raw.survey_value_labels (
    wave integer not null, load_id varchar not null, variable varchar not null, code double not null,
    label varchar
);
create table if not exists raw.codebook_variables (
    wave integer not null, source_variable varchar not null, role varchar not null, item_code varchar,
    blank_reason varchar, label_lv varchar, label_en varchar, scale_code varchar
);
create table if not exists raw.codebook_values (
    wave integer not null, source_variable varchar not null, source_code double not null,
    harmonised_value varchar, missing_reason varchar
);
-- a label-coded variable maps delivered text labels (codebook `labels`); the cell holds the label it matched
alter table raw.codebook_values add column if not exists source_label varchar;
alter table raw.codebook_values alter column source_code drop not null;
-- where the wave has respondents, against its fieldwork plan (codebook `coverage`; national by default)
alter table raw.survey_waves add column if not exists coverage_plan varchar;
alter table raw.survey_waves add column if not exists planned_municipalities varchar;
alter table raw.survey_waves add column if not exists municipalities_with_respondents integer;
alter table raw.survey_waves add column if not exists regions_with_respondents integer;
alter table raw.survey_waves add column if not exists n_parts integer;
create table if not exists raw.admin_table_rows (
    load_id varchar not null, source_file varchar not null, sheet varchar not null,
    municipality_code varchar not null, municipality_name varchar, year integer not null,
    excel_row integer not null, row_no varchar not null, service_type varchar, data_type varchar,
    total varchar, women varchar, men varchar, age_0_17 varchar, age_18_24 varchar, age_25_54 varchar,
    age_55_64 varchar, age_65_79 varchar, age_80_89 varchar, age_90_plus varchar,
    expenditure_eur varchar, source_comment varchar
);
"""
# each value column's number as ingest/numbers.py read it (dbt reads these; the text stays as delivered)
ADMIN_NUMBER_COLUMNS = ("total", "women", "men", "age_0_17", "age_18_24", "age_25_54", "age_55_64", "age_65_79",
                        "age_80_89", "age_90_plus", "expenditure_eur")
DDL += "".join(f"alter table raw.admin_table_rows add column if not exists {c}_value double;\n"
               for c in ADMIN_NUMBER_COLUMNS)


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute(DDL)
        if _admin_numbers_missing(con):
            _add_admin_numbers(con)
        audit_notes.create(con)  # aliases applied, columns ignored (ingest/audit_notes.py)
    return con


def _admin_numbers_missing(con) -> bool:
    """Whether stored LM cells lack the number the loader reads with them (rows loaded before the loader
    stored numbers): a cell with text that is not X and no number. The loader never stores such a cell."""
    cond = " or ".join(f"({c} is not null and upper(trim({c})) <> 'X' and {c}_value is null)"
                       for c in ADMIN_NUMBER_COLUMNS)
    return con.execute(f"select exists (select 1 from raw.admin_table_rows where {cond})").fetchone()[0]


def _add_admin_numbers(con) -> None:
    """A warehouse made before the loader stored numbers: read the stored text once with the one parser."""
    rows = con.execute("select rowid, " + ", ".join(ADMIN_NUMBER_COLUMNS) + " from raw.admin_table_rows").fetchall()
    if not rows:
        return
    frame = pd.DataFrame([[r[0], *[parse_number(v) for v in r[1:]]] for r in rows],
                         columns=["rid", *[f"{c}_value" for c in ADMIN_NUMBER_COLUMNS]])
    con.register("_numbers", frame)
    con.execute("update raw.admin_table_rows t set " + ", ".join(f"{c}_value = n.{c}_value" for c in ADMIN_NUMBER_COLUMNS)
                + " from _numbers n where t.rowid = n.rid")
    con.unregister("_numbers")


def _now() -> datetime:
    return datetime.now(timezone.utc)


LOAD_STATUSES = {
    "loaded": "loaded into the raw tables in this run",
    "unchanged": "the same delivery is loaded already: nothing to do (said in the run's log, not recorded)",
    "rejected": "refused by the loader (the file does not match its codebook or layout)",
    "quarantined": "held back: blocked by a quality gate, or refused before it was read (over a resource limit, "
                   "or not a regular file); the last good data stays in force",
    "held": "delivered again while rejected or quarantined: not retried (said in the run's log, not recorded; "
            "make load retries it)",
    "not_promoted": "loaded, but the run failed for another reason: nothing published, retried next run",
    "same_delivery": "the file given to `make load` is the landing workbook itself: one delivery, read once "
                     "(said in the run's log, not recorded)",
}
HELD_STATUSES = ("rejected", "quarantined")


def _audit(con, load_id, kind, key, path: Path | list[Path], sha, rows, status, message=None, archived=None, *,
           identity=None, year=None, run_id=None, public=None, size=None) -> None:
    """One row of audit.file_loads. `path`: the delivered file, or the parts of a wave delivered in several
    files (their names joined with ' + ', their paths with '; ')."""
    paths = [Path(x) for x in path] if isinstance(path, (list, tuple)) else [Path(path)]
    name, full = " + ".join(x.name for x in paths), "; ".join(str(x) for x in paths)
    con.execute(
        "insert into audit.file_loads (load_id, source_kind, partition_key, file_name, file_path, sha256, "
        "size_bytes, rows_loaded, status, message, loaded_at, archive_path, delivery_sha256, delivery_year, "
        "run_id, public_message) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, kind, key, name, full, sha, sum(_size(x) for x in paths) if size is None else size, rows, status,
         message, _now(), None if archived is None else str(archived), identity or sha, year, run_id,
         public if public is not None else LOAD_STATUSES.get(status)],
    )


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _latest_status_of(con, kind: str, identity: str) -> tuple[str, str, datetime] | None:
    """The latest recorded outcome of this exact delivery: (status, message, when)."""
    return con.execute(
        """select status, message, loaded_at from audit.file_loads
           where source_kind = ? and coalesce(delivery_sha256, sha256) = ?
             and status in ('loaded', 'unchanged', 'rejected', 'quarantined', 'not_promoted')
           order by loaded_at desc limit 1""",
        [kind, identity],
    ).fetchone()


def _held(con, kind: str, identity: str) -> tuple[str, str, datetime] | None:
    """A delivery rejected or quarantined before and not corrected since: (status, reason, when)."""
    last = _latest_status_of(con, kind, identity)
    return last if last and last[0] in HELD_STATUSES else None


def _database_file(con) -> Path | None:
    """The file behind a connection, or None for an in-memory database (a dry run)."""
    row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    return Path(row[0]) if row and row[0] else None


_DRY_RUN_INTAKE: list[Path] = []


def intake_root(con) -> Path:
    """Where delivered files are taken to before they are parsed: the archive beside a warehouse file,
    or (an in-memory warehouse: `make validate`) a private temporary folder removed at exit."""
    db = _database_file(con)
    if db is not None:
        return archive_root(db)
    if not _DRY_RUN_INTAKE:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="trust-dry-run-"))
        atexit.register(shutil.rmtree, folder, True)
        _DRY_RUN_INTAKE.append(folder)
    return _DRY_RUN_INTAKE[0]


def survey_delivery_parts(path: Path | list[Path], cb: Codebook) -> list[Path]:
    """What a survey delivery consists of: its data file(s), the codebook that reads it and the code
    list(s) its codebook names. A change in any of them is a new delivery (reloaded)."""
    files = [Path(x) for x in path] if isinstance(path, (list, tuple)) else [Path(path)]
    parts = files + [Path(cb.path)]
    pattern = cb.delivery.get("code_list_file")
    if pattern:
        parts += matching_files(files[0].parent, pattern)
    return parts


def identity_of(shas: list[str | None]) -> str:
    """One checksum over the checksums of a delivery's parts, in their order (names do not matter)."""
    h = hashlib.sha256()
    for sha in shas:
        h.update((sha or "-").encode() + b"\n")
    return h.hexdigest()


def delivery_identity(parts: list[Path]) -> str:
    """The identity of a delivery from its files (the landing-folder sensor: no file is parsed)."""
    return identity_of([sha256_of(p) if Path(p).is_file() and not Path(p).is_symlink() else None for p in parts])


def _public_reason(kind: str, year, exc: IngestError) -> str:
    what = f"survey wave {year}" if kind == "survey" else f"admin extract {year or ''}".strip()
    word = ("held as incomplete" if isinstance(exc, Incomplete) else
            "quarantined before reading" if isinstance(exc, Quarantine) else "rejected")
    return f"{what}: {word}: {public_text(exc.problem)}"


def _reject(con, kind: str, key: str, path, exc: IngestError, archived: Path | None = None, *,
            identity=None, year=None, run_id=None, sha=None, size=None) -> None:
    status = "quarantined" if isinstance(exc, Quarantine) else "rejected"
    _audit(con, str(uuid.uuid4()), kind, key, path, sha or "", None, status, exc.describe(), archived,
           identity=identity, year=year, run_id=run_id, public=_public_reason(kind, year, exc), size=size)


def _held_message(held) -> str:
    status, reason, when = held
    return (f"{status} on {when:%Y-%m-%d %H:%M} UTC and delivered again unchanged: not retried "
            f"(reason then: {reason}). Deliver a corrected file, or retry it with `make load`.")


def quarantine_entry(con, kind: str, key: str, entry: Path, problem: str, *, year=None, run_id=None,
                     retry: bool = False) -> dict:
    """A landing entry that is not a regular file of its own (a link, a second name of a file, a pipe,
    a device): never followed or read; quarantined and recorded once (held after that, unless retried)."""
    identity = entry_identity(entry, problem)
    held = None if retry else _held(con, kind, identity)
    if held:
        return {"file": entry.name, "path": str(entry), "status": "held", "rows": 0, "message": _held_message(held)}
    exc = not_a_file(entry, problem)
    _reject(con, kind, key, entry, exc, identity=identity, year=year, run_id=run_id)
    return {"file": entry.name, "path": str(entry), "status": "quarantined", "rows": 0, "message": exc.describe()}


def quarantine_unread(con, kind: str, key: str, exc: Quarantine, *, year=None, run_id=None, retry: bool = False,
                      identity: str | None = None, taken: Taken | None = None, shown=None) -> dict:
    """A delivery refused before it was parsed (OverLimit, NotAFile), or read and found incomplete
    (Incomplete): quarantined and recorded once. `shown`: the delivered file(s) the audit names."""
    path = Path(exc.file)
    recorded = shown if shown is not None else path
    name = " + ".join(Path(x).name for x in recorded) if isinstance(recorded, list) else path.name
    identity = identity or (taken.sha256 if taken else entry_identity(path, exc.problem))
    held = None if retry else _held(con, kind, identity)
    if held:
        return {"file": name, "path": str(path), "status": "held", "rows": 0, "message": _held_message(held)}
    single = not isinstance(recorded, list) or len(recorded) == 1
    _reject(con, kind, key, recorded, exc, taken.local if taken and single else None, identity=identity, year=year,
            run_id=run_id, sha=taken.sha256 if taken and single else (identity if taken else ""),
            size=taken.size if taken and single else None)
    return {"file": name, "path": str(path), "status": "quarantined", "rows": 0, "message": exc.describe()}


def _take(path: Path, into: Path, shown: Path) -> Taken:
    """`take`, its errors naming the file as delivered."""
    try:
        return take(path, into)
    except IngestError as exc:
        raise exc.relocated({str(path): str(shown)}) from None


def load_survey_wave(con, path: Path | list[Path], cb: Codebook, *, run_id: str | None = None, retry: bool = False,
                     shown_as: Path | list[Path] | None = None, delivered_as: dict[str, str] | None = None) -> dict:
    """Load one wave (its file, or the parts of a wave delivered in several files: codebook
    `delivery.parts`); returns a summary. Raises IngestError when it is rejected; a delivery refused
    before reading (over a resource limit, not a regular file) or read and found incomplete (a region
    of its fieldwork plan without respondents) is quarantined and returned.

    The delivery (data file(s) + codebook + the code lists its pattern matches) is taken in first: each
    file read once into the archive, and the archived copies are what is parsed (ingest/intake.py).
    A delivery loaded already is 'unchanged'; one rejected or quarantined before is 'held' (not read
    again) unless `retry`; neither is recorded again. `shown_as` (the data file(s)) and `delivered_as`
    (any staged path -> the path given): the files as delivered (`make load` stages copies), which
    messages and the audit name, never a staging copy."""
    files = [Path(x) for x in path] if isinstance(path, (list, tuple)) else [Path(path)]
    given = dict(delivered_as or {})
    if shown_as is not None:
        given.update({str(f): str(s_) for f, s_ in zip(files, shown_as if isinstance(shown_as, (list, tuple))
                                                       else [shown_as])})

    def as_delivered(p) -> Path:
        return Path(given.get(str(p), str(p)))

    delivered = [as_delivered(f) for f in files]
    shown_wave = delivered if len(delivered) > 1 else delivered[0]
    key = str(cb.wave)
    into = intake_root(con)
    ids = {"year": cb.wave, "run_id": run_id}
    pattern = cb.delivery.get("code_list_file")
    try:
        data = [_take(f, into, d) for f, d in zip(files, delivered)]
        others = [Path(cb.path)] + (matching_files(files[0].parent, pattern) if pattern else [])
        taken = data + [_take(p, into, as_delivered(p)) for p in others]
    except Quarantine as exc:
        return {"wave": cb.wave, **quarantine_unread(con, "survey", key, exc, retry=retry, **ids)}
    except IngestError as exc:
        _reject(con, "survey", key, shown_wave, exc, **ids)
        raise
    n_data = len(data)
    identity = identity_of([t.sha256 for t in taken])
    names_shown = " + ".join(d.name for d in delivered)
    held = None if retry else _held(con, "survey", identity)
    if held:
        return {"wave": cb.wave, "file": names_shown, "status": "held", "rows": 0, "message": _held_message(held)}
    copies = [(str(t.delivered), str(t.local), t.sha256) for t in taken]  # what was read, its archived copy
    if _current_identity(con, "survey", key) == identity:
        return {"wave": cb.wave, "file": names_shown, "status": "unchanged", "rows": 0, "taken": copies}
    ids["identity"] = identity
    names = {str(t.local): str(as_delivered(t.delivered)) for t in taken}
    names |= {str(t.delivered): str(as_delivered(t.delivered)) for t in taken}
    archived = data[0].local if n_data == 1 else None
    data_sha = data[0].sha256 if n_data == 1 else identity_of([t.sha256 for t in data])
    data_size = sum(t.size for t in data)
    try:
        for t, d in zip(data, delivered):
            if t.size == 0:
                raise IngestError(d, "the file is empty")
        cb_read = load_codebook(taken[n_data].local, shown_as=as_delivered(cb.path))

        def audit(load_id: str, stored) -> None:
            _audit(con, load_id, "survey", key, shown_wave, data_sha, len(stored.cells), "loaded", archived=archived,
                   size=data_size, **ids)
            audit_notes.record(con, load_id, "survey", key, names_shown, stored.aliases_applied,
                               stored.ignored_columns, stored.excluded)

        delivery, coverage = load_wave(con, [(t.local, t.delivered, t.sha256) for t in data], cb_read,
                                       code_lists=[x.local for x in taken[n_data + 1:]], delivered=delivered,
                                       shown=shown_wave, source_file=names_shown, sha256=data_sha, audit=audit)
    except Quarantine as exc:
        exc.relocated(names)
        return {"wave": cb.wave, **quarantine_unread(con, "survey", key, exc, retry=retry, taken=data[0],
                                                      identity=identity, run_id=run_id, year=cb.wave,
                                                      shown=shown_wave)}
    except IngestError as exc:
        exc.relocated(names)
        _reject(con, "survey", key, shown_wave, exc, archived, sha=data_sha, size=data_size, **ids)
        raise
    return {"wave": cb.wave, "file": names_shown, "status": "loaded", "rows": len(delivery.cells),
            "respondents": delivery.n_respondents, "notes": delivery.notes(), "coverage": coverage["notes"],
            "taken": copies}


class _AuditState:
    """What the audit says about deliveries of one kind, read once for a batch of files: the
    partition each delivery is the current load of, and the deliveries held back."""

    def __init__(self, con, kind: str):
        rows = con.execute(
            """select coalesce(delivery_sha256, sha256) as identity, partition_key, status, message, loaded_at
               from audit.file_loads
               where source_kind = ? and status in ('loaded', 'unchanged', 'rejected', 'quarantined', 'not_promoted')
               order by loaded_at desc""",
            [kind]).fetchall()
        holds: dict[str, str] = {}  # partition -> the identity it holds now (its latest load)
        latest: dict[str, tuple] = {}  # identity -> its latest outcome
        for identity, key, status, message, when in rows:
            if status in ("loaded", "unchanged"):
                holds.setdefault(key, identity)
            latest.setdefault(identity, (status, message, when))
        self.partition_of = {identity: key for key, identity in holds.items()}
        self.held = {i: last for i, last in latest.items() if last[0] in HELD_STATUSES}


def load_admin_extract(con, path: Path, layout: dict | None = None, seen: dict[str, str] | None = None,
                       expected_year: int | None = None, *, run_id: str | None = None,
                       retry: bool = False, shown_as: Path | None = None) -> dict:
    """Load one municipality-year workbook (load_admin_extracts with one file); raises IngestError
    when it is rejected (a quarantined one is returned)."""
    results, rejected = load_admin_extracts(con, [AdminItem(Path(path), expected_year, retry, shown_as=shown_as)],
                                            layout=layout, seen=seen, run_id=run_id)
    if rejected:
        raise rejected[0]
    return results[0]


@dataclass
class AdminItem:
    """One workbook to load: where it is, the year of the folder it was delivered in, whether a held
    delivery is retried, whether a staged workbook may replace it (a landing workbook), and the name
    it was delivered under (`make load` stages a copy)."""

    path: Path
    expected_year: int | None = None
    retry: bool = False
    replaceable: bool = False
    shown_as: Path | None = None

    @property
    def delivered(self) -> Path:
        return Path(self.shown_as) if self.shown_as is not None else Path(self.path)


def load_admin_extracts(con, items: list, *, layout: dict | None = None,
                        seen: dict[str, str] | None = None, run_id: str | None = None,
                        progress=None) -> tuple[list[dict], list[IngestError]]:
    """Load municipality-year workbooks (AdminItem, or (path, expected year, retry)) in one transaction:
    every file is taken in (read once into the archive; the copy is parsed), read and checked on its
    own; rejected ones are recorded and returned (not raised), quarantined ones (over a resource
    limit, not a regular file) recorded and passed over, the others loaded together. An unchanged
    file (same checksum as the current load of its municipality-year) is not parsed again; one
    rejected or quarantined before is 'held' unless retried. A `replaceable` workbook whose
    municipality-year a workbook earlier in `items` loads is left out ('replaced'). `seen`
    (municipality/year -> file) makes a second extract for the same municipality and year an error;
    the expected year (the landing folder's) makes a misfiled extract an error."""
    seen = {} if seen is None else seen
    layout = layout or load_layout()
    state = _AuditState(con, "admin")
    into = intake_root(con)
    results, rejected, frames, audits, notes = [], [], [], [], []
    loaded_keys: set[str] = set()
    given_shas: dict[str, str] = {}  # workbooks given to `make load` in this batch: sha256 -> municipality/year

    def audit(load_id, key, path, sha, rows, status, message=None, archived=None, *, year, public=None,
              identity=None, size=None):
        audits.append([load_id, "admin", key, path.name, str(path), sha, _size(path) if size is None else size,
                       rows, status, message, _now(), None if archived is None else str(archived), identity or sha,
                       year, run_id, public if public is not None else LOAD_STATUSES.get(status)])

    for i, item in enumerate(items, 1):
        if not isinstance(item, AdminItem):
            item = AdminItem(Path(item[0]), item[1], item[2])
        path, expected_year, retry, shown = Path(item.path), item.expected_year, item.retry, item.delivered
        try:
            taken = _take(path, into, shown)
        except Quarantine as exc:
            identity = entry_identity(shown, exc.problem)
            held = None if retry else state.held.get(identity)
            if held:
                results.append({"key": shown.name, "file": shown.name, "path": str(shown), "status": "held",
                                "rows": 0, "message": _held_message(held)})
            else:
                audit(str(uuid.uuid4()), shown.name, shown, "", None, "quarantined", exc.describe(),
                      year=expected_year, public=_public_reason("admin", expected_year, exc), identity=identity)
                results.append({"key": shown.name, "file": shown.name, "path": str(shown), "status": "quarantined",
                                "rows": 0, "message": exc.describe()})
            continue
        except IngestError as exc:
            audit(str(uuid.uuid4()), shown.name, shown, "", None, "rejected", exc.describe(),
                  year=expected_year, public=_public_reason("admin", expected_year, exc))
            rejected.append(exc)
            continue
        sha = taken.sha256
        held = None if retry else state.held.get(sha)
        current = state.partition_of.get(sha)
        if current and expected_year is not None and not current.endswith(f"/{expected_year}"):
            current = None  # the same workbook as another year's, filed here: read it (and say it is misfiled)
        if item.replaceable and sha in given_shas:
            # the landing workbook is the very delivery given to `make load` (the same file, or the same bytes
            # under another name): one delivery, read once, never a second extract for its municipality-year
            results.append({"key": given_shas[sha], "file": shown.name, "path": str(shown), "status": "same_delivery",
                            "rows": 0, "sha256": sha})
        elif item.replaceable and current and current in loaded_keys:
            results.append({"key": current, "file": shown.name, "path": str(shown), "status": "replaced", "rows": 0})
        elif held:
            results.append({"key": shown.name, "file": shown.name, "path": str(shown), "status": "held", "rows": 0,
                            "message": _held_message(held)})
        elif current and seen.get(current, shown.name) == shown.name:
            seen[current] = shown.name
            results.append({"key": current, "file": shown.name, "path": str(shown), "status": "unchanged", "rows": 0,
                            "taken": [(str(taken.delivered), str(taken.local), sha)]})
            loaded_keys.add(current)
            if not item.replaceable:
                given_shas[sha] = current
        else:
            try:
                if taken.size == 0:
                    raise IngestError(shown, "the file is empty")
                extract, key, aliases = _read_extract(taken.local, layout, expected_year, seen, shown,
                                                      clock=(taken.delivered, sha))
            except Quarantine as exc:
                exc.relocated({str(taken.local): str(shown)})
                audit(str(uuid.uuid4()), shown.name, shown, sha, None, "quarantined", exc.describe(), taken.local,
                      year=expected_year, public=_public_reason("admin", expected_year, exc), size=taken.size)
                results.append({"key": shown.name, "file": shown.name, "path": str(shown), "status": "quarantined",
                                "rows": 0, "message": exc.describe()})
            except IngestError as exc:
                exc.relocated({str(taken.local): str(shown)})
                audit(str(uuid.uuid4()), shown.name, shown, sha, None, "rejected", exc.describe(), taken.local,
                      year=expected_year, public=_public_reason("admin", expected_year, exc), size=taken.size)
                rejected.append(exc)
            else:
                seen[key] = shown.name
                loaded_keys.add(key)
                if not item.replaceable:
                    given_shas[sha] = key
                load_id = str(uuid.uuid4())
                frames.append(extract.rows.assign(
                    load_id=load_id, source_file=shown.name, municipality_code=extract.municipality_code,
                    municipality_name=extract.municipality_name, year=extract.year))
                audit(load_id, key, shown, sha, len(extract.rows), "loaded", archived=taken.local, year=extract.year,
                      size=taken.size)
                notes.append((load_id, key, shown.name, aliases))
                results.append({"key": key, "file": shown.name, "path": str(shown), "status": "loaded",
                                "rows": len(extract.rows), "taken": [(str(taken.delivered), str(taken.local), sha)],
                                "notes": extract.notes + [
                                    f"municipality code {a['delivered_code']} read as {a['applied_code']} (alias "
                                    f"valid {a['valid_from'] or '…'} to {a['valid_to'] or 'open'})" for a in aliases]})
        if progress and (i % 50 == 0 or i == len(items)):
            progress(i, len(items), len(rejected))
    con.execute("begin transaction")
    try:
        if frames:
            rows = pd.concat(frames, ignore_index=True)
            con.register("_frame", rows)
            con.execute("""delete from raw.admin_table_rows t using (select distinct municipality_code, year from _frame) f
                           where t.municipality_code = f.municipality_code and t.year = f.year""")
            cols = [r[0] for r in con.execute("describe raw.admin_table_rows").fetchall()]
            con.execute(f"insert into raw.admin_table_rows ({', '.join(cols)}) select {', '.join(cols)} from _frame")
            con.unregister("_frame")
        if audits:
            con.executemany(
                "insert into audit.file_loads (load_id, source_kind, partition_key, file_name, file_path, sha256, "
                "size_bytes, rows_loaded, status, message, loaded_at, archive_path, delivery_sha256, delivery_year, "
                "run_id, public_message) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", audits)
        for load_id, key, name, aliases in notes:
            if aliases:
                audit_notes.record(con, load_id, "admin", key, name, aliases, [])
        checkpoint("admin:in-transaction")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return results, rejected


def _read_extract(path: Path, layout: dict, expected_year: int | None, seen: dict[str, str],
                  shown: Path | None = None, clock: tuple[Path | None, str | None] = (None, None)):
    """Read and check one workbook (`path`: the copy to parse, `shown`: the file as delivered, whose
    name is cross-checked and named): (extract, municipality/year key, aliases applied)."""
    shown = Path(shown) if shown is not None else Path(path)
    if not path.exists() or path.stat().st_size == 0:
        raise IngestError(path, "the file is empty" if path.exists() else "the file does not exist")
    extract: AdminExtract = read_admin_table(path, layout, clock)
    if expected_year is not None and extract.year != expected_year:
        raise IngestError(path, f"the extract reports year {extract.year} but was delivered under "
                          f"admin/{expected_year}/; file it under its own year", sheet=extract.sheets[0],
                          value=extract.year)
    boundary = boundary_set_of_report_year(extract.year)
    resolved = resolve_codes([extract.municipality_code], boundary,
                             (datetime(extract.year, 12, 31).date(), datetime(extract.year, 12, 31).date()))
    if extract.municipality_code in resolved.unknown:
        raise IngestError(path, f"municipality code in the title block is not a unit of {extract.year} "
                          f"(boundary set {boundary})", sheet=extract.title_sheet, row=extract.title_row,
                          column=extract.title_column, value=extract.municipality_code)
    aliases = [{"variable": "title block", "delivered_code": a.delivered_code, "applied_code": a.atvk_code,
                "rows": 1, "valid_from": a.valid_from, "valid_to": a.valid_to, "source": a.source}
               for a in resolved.applied]
    extract.municipality_code = resolved.mapping[extract.municipality_code]
    key = f"{extract.municipality_code}/{extract.year}"
    if seen.get(key, shown.name) != shown.name:
        raise IngestError(path, f"a second extract for municipality/year {key} (the first is {printable(seen[key])}); "
                          "deliver one extract per municipality and year", value=key)
    return extract, key, aliases


def _current_identity(con, kind: str, key: str) -> str | None:
    """The identity of the delivery a partition holds now (its latest load, or confirmation)."""
    row = con.execute(
        """select coalesce(delivery_sha256, sha256) from audit.file_loads
           where source_kind = ? and partition_key = ? and status in ('loaded', 'unchanged')
           order by loaded_at desc limit 1""",
        [kind, key],
    ).fetchone()
    return row[0] if row else None


def _current_partition_of(con, kind: str, identity: str) -> str | None:
    """The partition this exact delivery is the current load of, if any."""
    row = con.execute(
        """select partition_key from (
               select partition_key, coalesce(delivery_sha256, sha256) as identity,
                      row_number() over (partition by partition_key order by loaded_at desc) as rn
               from audit.file_loads where source_kind = ? and status in ('loaded', 'unchanged'))
           where rn = 1 and identity = ? limit 1""",
        [kind, identity],
    ).fetchone()
    return row[0] if row else None


@dataclass
class WaveFolder:
    """A wave folder ``survey/<wave>/`` as a delivery: its data file and codebook, or the problem that
    keeps it from being read, and its entries that are not regular files (refused by name)."""

    wave: int
    folder: Path
    data_files: list[Path] = field(default_factory=list)  # one, or the parts of a wave in several files
    codebook: Codebook | None = None
    problem: IngestError | None = None
    unsafe: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def data_file(self) -> Path | None:
        return self.data_files[0] if self.data_files else None


def wave_folders(survey_landing: Path, years: set[int] | None = None) -> list[WaveFolder]:
    """Every wave folder of `survey_landing` (of `years`), read as far as it can be: the file its
    codebook's data_file pattern matches, or the problem (no codebook, none or several matching
    files, a codebook for another wave, a codebook over the limits); nothing is followed through a
    link, and no data file is read."""
    out = []
    for year, d, problem in year_entries(survey_landing):
        if years is not None and year not in years:
            continue
        if problem:
            out.append(WaveFolder(year, d, unsafe=[(d, problem)]))
            continue
        wf = WaveFolder(year, d, unsafe=unsafe_entries(d))
        try:
            cb = codebook_for_delivery(d)
            if cb.wave != year:
                raise IngestError(cb.path, f"codebook is for wave {cb.wave} but serves the folder survey/{d.name}/",
                                  column="wave", value=cb.wave)
            files = [f for f in matching_files(d, cb.delivery["data_file"]) if f.suffix.lower() not in {".yml", ".yaml"}]
            if cb.delivery.get("parts") and files:
                wf.codebook, wf.data_files = cb, files
            elif len(files) != 1:
                raise IngestError(d, f"expected one file matching {cb.delivery['data_file']!r} "
                                  f"(codebook {cb.path.name}), found {len(files)}"
                                  + ("; a wave delivered in several files says so: delivery.parts: true"
                                     if len(files) > 1 else ""), value=[f.name for f in files])
            else:
                wf.codebook, wf.data_files = cb, files
        except IngestError as exc:
            wf.problem = exc
        out.append(wf)
    return out


def survey_files(survey_landing: Path, years: set[int] | None = None) -> list[tuple[int, Path]]:
    """Delivered wave files: ``survey/<wave>/<file>``, the file found by the data_file pattern
    of the wave's codebook. A wave folder without a codebook, or with no or several matching
    files, is an error naming the folder."""
    found = []
    for wf in wave_folders(survey_landing, years):
        if wf.problem is not None:
            raise wf.problem
        found += [(wf.wave, f) for f in wf.data_files]
    return found


def admin_files(admin_landing: Path, years: set[int] | None = None) -> list[Path]:
    """Workbooks under admin/<year>/, whatever their name (``*.xlsx``, ``*.xls``, any letter case); hidden files
    and the lock files Excel leaves beside an open workbook (``~$name.xlsx``) are not deliveries, nor
    is anything that is not a regular file of its own (refused by name, ingest/intake.py)."""
    return sorted(p for year, d, problem in year_entries(admin_landing)
                  if problem is None and (years is None or year in years) for p in admin_workbooks_in(d))


ADMIN_PATTERNS = ("*.xlsx", "*.xls")  # LM tables: Excel workbooks, also Excel 97-2003 (LABIS exports)


def admin_workbooks_in(folder: Path) -> list[Path]:
    """The workbooks of one admin/<year>/ folder (.xlsx and .xls, any letter case)."""
    return sorted({p for pattern in ADMIN_PATTERNS for p in matching_files(folder, pattern)})
