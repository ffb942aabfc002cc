"""What a load did to a delivery besides loading it, recorded next to audit.file_loads.

- ``audit.code_aliases_applied``: every municipality code read through the alias table
  (seed reference/ref_code_aliases), with how many rows and the alias's validity and source;
- ``audit.ignored_columns``: every delivered column the codebook does not use, which was
  therefore not stored (its name and position only, never its values);
- ``audit.rows_excluded``: rows the survey firm's own status column dropped (codebook ``row_status``):
  per file, delivered status and reason, how many rows (the rows themselves are not stored).

Rows carry the ``load_id`` of the load they belong to (``audit.file_loads.load_id``) and are
written in the same transaction as the load.
"""
from __future__ import annotations

from datetime import datetime, timezone

DDL = """
create schema if not exists audit;
create table if not exists audit.code_aliases_applied (
    load_id varchar not null, source_kind varchar not null, partition_key varchar not null,
    file_name varchar not null, variable varchar, delivered_code varchar not null,
    applied_code varchar not null, rows_affected bigint not null, alias_valid_from date,
    alias_valid_to date, alias_source varchar, recorded_at timestamptz not null
);
create table if not exists audit.rows_excluded (
    load_id varchar not null, source_kind varchar not null, partition_key varchar not null,
    file_name varchar not null, variable varchar not null, status varchar, reason varchar not null,
    rows_excluded bigint not null, recorded_at timestamptz not null
);
create table if not exists audit.ignored_columns (
    load_id varchar not null, source_kind varchar not null, partition_key varchar not null,
    file_name varchar not null, column_name varchar not null, position integer, reason varchar not null,
    recorded_at timestamptz not null
);
"""


def create(con) -> None:
    con.execute(DDL)


def record(con, load_id: str, kind: str, key: str, file_name: str, aliases: list[dict],
           ignored: list[dict], excluded: list[dict] = ()) -> None:
    now = datetime.now(timezone.utc)
    for a in aliases:
        con.execute(
            "insert into audit.code_aliases_applied values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [load_id, kind, key, file_name, a.get("variable"), a["delivered_code"], a["applied_code"], a["rows"],
             a.get("valid_from"), a.get("valid_to"), a.get("source"), now],
        )
    for c in ignored:
        con.execute(
            "insert into audit.ignored_columns values (?, ?, ?, ?, ?, ?, ?, ?)",
            [load_id, kind, key, file_name, c["column"], c.get("position"), c["reason"], now],
        )
    for e in excluded:
        con.execute(
            "insert into audit.rows_excluded values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [load_id, kind, key, e.get("file", file_name), e["variable"], e["status"], e["reason"], e["rows"], now],
        )
