"""The live warehouse changes in one step, or not at all.

A run never writes the live file. It works on a *working copy* beside it
(``trust.duckdb.building``): the delivered files are loaded there, dbt builds there, the gates
look there. Only when every gate has passed is the working copy checkpointed and moved over the
live file with ``os.replace`` (atomic on one filesystem). A run that fails, is blocked or is
killed leaves the live file exactly as it was; its working copy is dropped by the next run.

What a failed run must still leave behind (its audit rows: rejected and quarantined deliveries,
validation results) goes into the live file the same way: a copy of the live file gets the rows,
then replaces it. So the live file is never open for writing, and analysts can keep it open
read-only while runs come and go.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingest.durable import fsync_dir
from ingest.faults import checkpoint, trace

BUILDING_SUFFIX = ".building"   # the run's working copy (a fixed name: dbt's profile stays stable)
AUDIT_SUFFIX = ".audit-update"  # a copy of the live file taking a failed run's audit rows


def working_copy_path(live: Path) -> Path:
    return Path(live).with_name(Path(live).name + BUILDING_SUFFIX)


def _drop(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)


def leftovers(live: Path) -> list[Path]:
    """Working files a killed run left behind (never the live file)."""
    live = Path(live)
    names = [live.name + BUILDING_SUFFIX, live.name + AUDIT_SUFFIX]
    return [p for n in names for p in (live.with_name(n), live.with_name(n + ".wal")) if p.exists()]


def clear_leftovers(live: Path) -> list[Path]:
    found = leftovers(live)
    for p in found:
        p.unlink(missing_ok=True)
    return found


def _checkpointed(path: Path) -> None:
    """Everything in the main file, no write-ahead log left behind."""
    con = duckdb.connect(str(path))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    Path(str(path) + ".wal").unlink(missing_ok=True)


def start(live: Path) -> Path:
    """A fresh working copy of the live warehouse (empty when there is none yet)."""
    live = Path(live)
    live.parent.mkdir(parents=True, exist_ok=True)
    clear_leftovers(live)
    work = working_copy_path(live)
    if live.exists():
        shutil.copyfile(live, work)
    checkpoint("working-copy:made")
    return work


def promote(work: Path, live: Path) -> None:
    """Replace the live warehouse by the working copy, in one step."""
    _checkpointed(work)
    with open(work, "rb+") as fh:
        os.fsync(fh.fileno())
    checkpoint("promote:before-replace")
    os.replace(work, live)
    fsync_dir(Path(live).parent)
    trace("promote:replaced")


def discard(work: Path) -> None:
    _drop(Path(work))


@contextmanager
def updated_live(live: Path, ddl: str):
    """A connection to a copy of the live warehouse; on a clean exit the copy replaces it.
    For the small writes a failed run must still make (its audit rows)."""
    live = Path(live)
    tmp = live.with_name(live.name + AUDIT_SUFFIX)
    _drop(tmp)
    if live.exists():
        shutil.copyfile(live, tmp)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(ddl)
        yield con
        con.execute("checkpoint")
    except BaseException:
        con.close()
        _drop(tmp)
        raise
    con.close()
    Path(str(tmp) + ".wal").unlink(missing_ok=True)
    checkpoint("audit:before-replace")
    os.replace(tmp, live)
    fsync_dir(live.parent)
    trace("audit:replaced")
