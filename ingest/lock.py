"""One writer at a time: an exclusive lock on ``<warehouse>.lock`` held while a process writes.

The lock is re-entrant within a process (a Dagster run executed in-process takes it once for the
whole run and again in each writing step). A second process waits up to TRUST_LOCK_TIMEOUT
seconds (default 900), then fails with a message naming who holds the lock. The operating system
releases the lock when its holder dies, even by SIGKILL, so a killed load never blocks the next one.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ingest.settings import Settings

_held: dict[str, list] = {}  # lock path -> [fd, depth]


class WarehouseBusy(Exception):
    pass


def lock_path(warehouse_path: Path) -> Path:
    return Path(str(warehouse_path) + ".lock")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        return f"pid {info.get('pid')} ({info.get('purpose')}) since {info.get('since')}"
    except (OSError, ValueError):
        return "another process"


@contextmanager
def warehouse_lock(warehouse_path: Path, purpose: str = "load", timeout: float | None = None, log=print):
    path = lock_path(warehouse_path)
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    timeout = Settings.from_env().lock_timeout if timeout is None else timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = _holder(path)
            if time.monotonic() >= deadline:
                os.close(fd)
                raise WarehouseBusy(
                    f"the warehouse {warehouse_path} is being written by {holder}; waited {timeout:.0f} s. "
                    "Only one load runs at a time: wait for it to finish (see `make status`) and retry, "
                    "or raise TRUST_LOCK_TIMEOUT to wait longer.") from None
            if not told:
                log(f"waiting for the warehouse lock held by {holder} ...")
                told = True
            time.sleep(0.5)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "purpose": purpose,
                             "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}).encode())
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        _held.pop(key, None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
