"""The published snapshot of the non-disclosive marts for reports, and its data-quality tables.

No Dagster here: the publish step (orchestration/publish.py) writes the snapshot after promoting the
run's working copy, and the writer (orchestration/writer.py) refreshes the quality tables after a
run that was not promoted.

Reports never read the warehouse: the snapshot is a separate DuckDB file, written to a temporary
name and moved into place in one step, so a reader sees the old or the new snapshot, never half
of one. Which marts are published is data: ``meta.publish: true`` on the model in dbt
(respondent-level models say ``publish: false``). Next to them the snapshot carries the state of
the quality gates and of the deliveries in words (QUALITY_TABLES), refreshed after every run, also a
failed one, while the marts stay the last good ones.
"""

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ingest.codebook import delivery_reasons
from ingest.faults import checkpoint, trace


def catalog_name(path: Path) -> str:
    """The name DuckDB gives a database file's catalog (its name up to the first dot): dbt's views in
    the warehouse refer to their tables through it, so the warehouse is attached under this name."""
    return Path(path).name.split(".")[0]


def _attach_warehouse(con, warehouse_path: Path) -> str:
    name = catalog_name(warehouse_path)
    con.execute(f'attach {sql_literal(warehouse_path)} as "{name}" (read_only)')
    return name


def sql_literal(text) -> str:
    """A string as an SQL literal (DuckDB cannot bind the path of an ATTACH)."""
    return "'" + str(text).replace("'", "''") + "'"


def published_models(manifest_path: Path) -> list[tuple[str, str]]:
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and (node["config"].get("meta") or {}).get("publish") is True:
            found.append((node["config"].get("schema") or node["schema"], node["name"]))
    return sorted(found)


def excluded_columns(manifest_path: Path) -> dict[str, list[str]]:
    """Columns a published mart keeps in the warehouse only (meta.publish_exclude), e.g. delivered file names."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    return {node["name"]: list((node["config"].get("meta") or {}).get("publish_exclude") or [])
            for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def publish_snapshot(warehouse_path: Path, published_path: Path, tables: list[tuple[str, str]],
                     run_id: str | None = None, exclude: dict[str, list[str]] | None = None) -> dict:
    published_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = published_path.with_name(published_path.name + ".tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    counts = {}
    try:
        wh = _attach_warehouse(con, warehouse_path)
        for schema, name in tables:
            left_out = (exclude or {}).get(name) or []
            star = "*" + (f" exclude ({', '.join(chr(34) + c + chr(34) for c in left_out)})" if left_out else "")
            con.execute(f'create table main."{name}" as select {star} from "{wh}"."{schema}"."{name}"')
            counts[name] = con.execute(f'select count(*) from main."{name}"').fetchone()[0]
            _copy_comments(con, wh, schema, name)
        con.execute(
            "create table main._snapshot_info as select ?::timestamptz as published_at, ? as run_id, ? as tables",
            [datetime.now(timezone.utc), run_id, ",".join(n for _, n in tables)],
        )
        con.execute("comment on table main._snapshot_info is 'When this snapshot was published, by which run, "
                    "and the tables it holds.'")
        _write_quality_tables(con, wh)
        con.execute(f'detach "{wh}"')
        con.execute("checkpoint")
    finally:
        con.close()
    checkpoint("publish:before-replace")
    os.replace(tmp, published_path)
    trace("publish:replaced")
    return counts


def _copy_comments(con, wh: str, schema: str, name: str) -> None:
    """The mart's and its columns' descriptions (dbt persist_docs) as comments of the snapshot's copy,
    so an analyst's SQL client shows them (duckdb_tables().comment, duckdb_columns().comment)."""
    row = con.execute(
        """select comment from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?
           union all
           select comment from duckdb_views() where database_name = ? and schema_name = ? and view_name = ?""",
        [wh, schema, name, wh, schema, name]).fetchone()
    if row and row[0]:
        con.execute(f'comment on table main."{name}" is {sql_literal(row[0])}')
    published = {c for (c,) in con.execute("select column_name from duckdb_columns() where database_name = current_database() "
                                           "and schema_name = 'main' and table_name = ?", [name]).fetchall()}
    for column, comment in con.execute(
            """select column_name, comment from duckdb_columns()
               where database_name = ? and schema_name = ? and table_name = ? and comment is not null""",
            [wh, schema, name]).fetchall():
        if column in published:
            con.execute(f'comment on column main."{name}"."{column}" is {sql_literal(comment)}')


QUALITY_COMMENTS = {
    "quality_status": "The last result of every quality gate (Great Expectations suite) per data set and "
                      "partition, in words: passed / failed / errored, how many expectations failed and which, and "
                      "whether it blocks what depends on it. / Pēdējās datu kvalitātes pārbaudes.",
    "quality_file_loads": "Every delivery attempt that was not loaded cleanly, and every attempt of the last 30 "
                          "days: its kind, year, a short id (the first 12 hex digits of its checksum), status and "
                          "message in words; no file name, path or delivered value. / Piegāžu ielādes.",
}


QUALITY_COMMENTS |= {
    "quality_admin_years": "Each admin report year: how many municipalities have delivered their LM workbook so far, "
                           "against the year's units (\"1 of 42 delivered\"); a partial year is published for those "
                           "that delivered. / Administratīvo datu gadi: iesniegto tabulu skaits.",
    "quality_rows_excluded": "Survey rows the survey firm excluded itself (its status column, codebook row_status), "
                             "per wave and reason, in words; the delivered status is not shown. / Aptaujas veicēja "
                             "izslēgtās intervijas.",
}


QUALITY_COLUMN_COMMENTS = {
    "quality_status": {
        "suite": "The Great Expectations suite (expectations/suites/<suite>.yml).",
        "data_ref": "The data set it judged (a mart or a raw source).",
        "partition_key": "The delivery year it judged, where it judged one.",
        "status": "passed, failed or errored (the validation itself broke).",
        "n_expectations": "Expectations in the suite.",
        "n_failed": "Expectations that failed.",
        "failed_expectations": "Which failed and why, in words.",
        "blocked_downstream": "Whether this result holds back what depends on it.",
        "validated_at": "When it was validated.",
    },
    "quality_admin_years": {
        "year": "The report year.",
        "municipalities_delivered": "Municipalities (reporting units) whose workbook for the year has been delivered.",
        "municipalities_expected": "The year's reporting units (119, 43 or 42).",
        "is_complete_year": "Every municipality has delivered; otherwise a partial year.",
        "year_coverage_lv": "\"N no 42 iesniegti\".",
        "year_coverage_en": "\"N of 42 delivered\".",
    },
    "quality_rows_excluded": {
        "wave_year": "The survey wave.",
        "reason": "Why the firm excluded the rows (ingest/config/survey_delivery.yml row_exclusion_reasons).",
        "reason_lv": "Iemesls (latviski).",
        "reason_en": "The reason in English.",
        "rows_excluded": "How many delivered rows it excluded.",
    },
    "quality_file_loads": {
        "source_kind": "survey or admin.",
        "delivery_year": "The wave or report year of the delivery.",
        "delivery_id": "The first 12 hex digits of the delivery's checksum (no file name).",
        "status": "loaded, unchanged, rejected, quarantined or held.",
        "message": "What happened, in words (no delivered value, name or path).",
        "rows_loaded": "Rows the delivery brought (a whole wave's respondents or a workbook's rows).",
        "loaded_at": "When it was tried.",
    },
}


# What the snapshot says about the gates and the deliveries: in words, no delivered value, name or
# path (the audit in the warehouse keeps the details for engineers).
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
               failures.failed_expectations, runs.status <> 'passed' as blocked_downstream, runs.validated_at
        from runs left join failures using (validation_id) where runs.rn = 1""",
    "quality_file_loads": """
        select source_kind, delivery_year, left(coalesce(delivery_sha256, sha256), 12) as delivery_id, status,
               public_message as message, rows_loaded, loaded_at
        from wh.audit.file_loads
        where status not in ('loaded', 'unchanged')
           or loaded_at >= (select max(loaded_at) from wh.audit.file_loads) - interval 30 day""",
}


# Read from the warehouse's models and audit, in words and counts only.
QUALITY_DATA_TABLES = {
    # each admin year: how many municipalities have delivered their workbook ("1 of 42 delivered")
    "quality_admin_years": """
        select cast(year as integer) as year, municipalities_delivered, municipalities_expected, is_complete_year,
               year_coverage_lv, year_coverage_en
        from wh.intermediate.int_admin__year_coverage""",
    # survey rows the firm's own status excluded (codebook row_status), per wave of the delivery it holds now
    # and reason: the reason in words (ingest/config/survey_delivery.yml), never the delivered status
    "quality_rows_excluded": """
        select cast(w.wave as integer) as wave_year, e.reason, cast(sum(e.rows_excluded) as bigint) as rows_excluded
        from wh.audit.rows_excluded e join wh.raw.survey_waves w on e.load_id = w.load_id
        group by all""",
}


def _exclusion_reasons(con) -> None:
    rows = [(k, v["lv"], v["en"]) for k, v in delivery_reasons().items()]
    con.execute("create or replace temp table _reasons (reason varchar, reason_lv varchar, reason_en varchar)")
    con.executemany("insert into _reasons values (?, ?, ?)", rows)


def _write_quality_tables(con, wh: str) -> None:
    for name, sql in QUALITY_TABLES.items():
        con.execute(f"create or replace table main.{name} as {sql.replace('wh.audit.', chr(34) + wh + chr(34) + '.audit.')}")
        con.execute(f"comment on table main.{name} is {sql_literal(QUALITY_COMMENTS[name])}")
        for column, comment in QUALITY_COLUMN_COMMENTS[name].items():
            con.execute(f"comment on column main.{name}.{column} is {sql_literal(comment)}")
    _exclusion_reasons(con)
    for name, sql in QUALITY_DATA_TABLES.items():
        sql = sql.replace("wh.", f'"{wh}".')
        try:
            con.execute(f"create or replace table main.{name} as {sql}")
        except duckdb.CatalogException:  # a warehouse built before these tables existed: empty, same columns
            _empty(con, name)
    con.execute("""create or replace table main.quality_rows_excluded as
                   select q.wave_year, q.reason, r.reason_lv, r.reason_en, q.rows_excluded
                   from main.quality_rows_excluded q left join _reasons r using (reason)""")
    for name in QUALITY_DATA_TABLES:
        con.execute(f"comment on table main.{name} is {sql_literal(QUALITY_COMMENTS[name])}")
        for column, comment in QUALITY_COLUMN_COMMENTS[name].items():
            con.execute(f"comment on column main.{name}.{column} is {sql_literal(comment)}")
    con.execute("create or replace table main._quality_info as select ?::timestamptz as refreshed_at",
                [datetime.now(timezone.utc)])
    con.execute("comment on table main._quality_info is 'When the quality tables were last refreshed (also after a "
                "blocked run, whose marts stay the last good ones).'")


_EMPTY = {
    "quality_admin_years": "year integer, municipalities_delivered integer, municipalities_expected integer, "
                           "is_complete_year boolean, year_coverage_lv varchar, year_coverage_en varchar",
    "quality_rows_excluded": "wave_year integer, reason varchar, rows_excluded bigint",
}


def _empty(con, name: str) -> None:
    con.execute(f"create or replace table main.{name} ({_EMPTY[name]})")


def refresh_quality_status(warehouse_path: Path, published_path: Path) -> bool:
    """Replace the quality tables of the published snapshot with the warehouse's current audit
    (copy, change, move into place: readers never see half a snapshot). The marts are not touched.
    Returns False when there is no snapshot yet. Called with the warehouse lock held."""
    if not published_path.exists() or not warehouse_path.exists():
        return False
    tmp = published_path.with_name(published_path.name + ".quality.tmp")
    shutil.copyfile(published_path, tmp)
    con = duckdb.connect(str(tmp))
    try:
        wh = _attach_warehouse(con, warehouse_path)
        _write_quality_tables(con, wh)
        con.execute(f'detach "{wh}"')
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, published_path)
    return True
