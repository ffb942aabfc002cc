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
SNAPSHOT_STATUS_TABLES = {"quality_status", "quality_file_loads", "_quality_info", "quality_admin_years",
                          "quality_rows_excluded"}


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
    """{relative path: sha256} of every file under a folder (the landing folder); an entry that is not a
    regular file is described, not followed or read ('symlink -> target', 'fifo', 'device'), and a hard
    link says how many names it has."""
    import os
    import stat

    folder = Path(folder)
    out = {}
    if not folder.exists():
        return out
    for root, dirs, files in os.walk(folder):  # os.walk does not follow links to folders
        for name in sorted(dirs + files):
            p = Path(root) / name
            st = p.lstat()
            key = str(p.relative_to(folder))
            if stat.S_ISLNK(st.st_mode):
                out[key] = f"symlink -> {os.readlink(p)}"
            elif stat.S_ISFIFO(st.st_mode):
                out[key] = "fifo"
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out[key] = "device"
            elif stat.S_ISREG(st.st_mode):
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest() + (f" ({st.st_nlink} names)" if st.st_nlink > 1
                                                                          else "")
    return out


def archive_state(root: Path) -> dict[str, str]:
    """{relative path: sha256 and mode} of every file and folder of the archive."""
    import stat

    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder")
            + f" {stat.S_IMODE(p.lstat().st_mode):o}" for p in sorted(root.rglob("*"))}


# what distinguishes two records of the same fact: the record's own id, its time, the run that wrote it
AUDIT_VOLATILE = {"load_id", "loaded_at", "run_id", "validation_id", "validated_at", "recorded_at"}


def audit_facts(db: Path, data_dir: Path | None = None) -> dict[str, tuple[int, int]]:
    """{audit table: (distinct facts, sum of their hashes)}: what the audit says, each fact once, without
    the record's id, time and run (a second run that finds nothing new records nothing new; the gates'
    verdicts it records again are the same facts). `data_dir`: paths under it are compared relative to
    it (two copies of a data folder)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("select table_name from information_schema.tables where table_schema = 'audit' "
                                    "and table_catalog = current_database() order by 1").fetchall():
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'audit' and table_name = ? "
                "and table_catalog = current_database() order by ordinal_position", [table]).fetchall()
                if c not in AUDIT_VOLATILE]
            names = ", ".join(chr(34) + c + chr(34) for c in cols)
            exprs = ", ".join(f"replace(\"{c}\", '{str(data_dir)}', '<data>') as \"{c}\""
                              if data_dir is not None and c in ("file_path", "archive_path") else f'"{c}"' for c in cols)
            n, h = con.execute(f"select count(*), coalesce(sum(hash({names})::hugeint), 0) from "
                               f"(select distinct {exprs} from audit.\"{table}\")").fetchone()
            out[f"audit.{table}"] = (int(n), int(h))
        return out
    finally:
        con.close()


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
