"""Fingerprints of everything a run may change, to prove that a failed run changed nothing.

A table's fingerprint is its row count and the sum of the hashes of its rows: independent of row
order, sensitive to any changed value (the hash covers every column's bits).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

# tables a failed run is allowed (and required) to add rows to
AUDIT_TABLES = {"audit.file_loads", "audit.validation_runs", "audit.validation_expectations"}
# the snapshot's tables that are refreshed after every run, also a failed one
SNAPSHOT_STATUS_TABLES = {"quality_status", "quality_file_loads", "_quality_info"}


def table_fingerprints(db: Path, skip: set[str] = frozenset(),
                       ignore_columns: set[str] = frozenset()) -> dict[str, tuple[int, int]]:
    """{schema.table: (rows, sum of row hashes)}; `ignore_columns` leaves out columns that differ
    between two loads of the same data (a load's uuid, timestamps)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() and table_type = 'BASE TABLE'").fetchall()]
        out = {}
        for name in sorted(tables):
            if name in skip or name.split(".", 1)[-1] in skip:
                continue
            schema, table = name.split(".", 1)
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "and table_catalog = current_database() order by ordinal_position", [schema, table]).fetchall()
                if c not in ignore_columns]
            row = f"hash({', '.join(chr(34) + c + chr(34) for c in cols)})" if cols else "0"
            n, h = con.execute(f'select count(*), coalesce(sum({row}::hugeint), 0) from "{schema}"."{table}"').fetchone()
            out[name] = (int(n), int(h))
        return out
    finally:
        con.close()


def warehouse_state(db: Path) -> dict[str, tuple[int, int]]:
    """Every table of the warehouse but the audit (which a failed run extends)."""
    return table_fingerprints(db, skip=AUDIT_TABLES)


def snapshot_state(db: Path) -> dict[str, tuple[int, int]]:
    """Every table of the published snapshot but its refreshed data-quality tables."""
    return table_fingerprints(db, skip=SNAPSHOT_STATUS_TABLES)


def folder_state(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under a folder (the landing folder)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def audit_rows(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in sorted(AUDIT_TABLES)}
    finally:
        con.close()


def published_digest(db: Path) -> dict[str, str]:
    """{table: sha256 of its rows in a canonical order and form} for every published mart of a snapshot:
    floats by their exact bits (float.hex), so two builds agree only if they are bit-identical.
    Left out: the snapshot's own bookkeeping (when, which run), its data-quality tables, and the
    checksums of delivered files (the sample generator's files carry their creation time)."""
    import json
    import math

    def canon(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else v.hex()
        return str(v) if v is not None else None

    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("select table_name from information_schema.tables "
                                    "where table_schema = 'main' order by table_name").fetchall():
            if table in SNAPSHOT_STATUS_TABLES or table.startswith("_"):
                continue
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'main' and table_name = ? "
                "order by ordinal_position", [table]).fetchall() if not c.endswith("sha256")]
            rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in cols)} from main."{table}" '
                               "order by all").fetchall()
            text = json.dumps([cols] + [[canon(v) for v in r] for r in rows], ensure_ascii=False)
            out[table] = hashlib.sha256(text.encode()).hexdigest()
        return out
    finally:
        con.close()


if __name__ == "__main__":  # python -m tests.state <snapshot.duckdb>: the digest to record in tests/published_digest.json
    import json
    import sys

    print(json.dumps(published_digest(Path(sys.argv[1])), indent=1, sort_keys=True))
