"""Staging folders of `make load`: each load stages its delivery into a folder of its own, and only
the folders of loads whose process is gone are cleaned up.

Two operators may run `make load` at the same time: the second waits for the warehouse lock while
its delivery sits in its staging folder. So a starting load must not clear ``data/incoming/``
wholesale (it used to, and the waiting load then found its file gone and rejected a good delivery).
A staging folder is named after its process: ``load-<pid>-<start>-<random>``, where <start> is the
process's start time (clock ticks since boot, /proc/<pid>/stat) so that a later process that got
the same pid is not taken for the owner. A folder is removed only when no process with that pid and
start time runs. A folder whose name says no owner (made by an older version) is removed when it is
more than a day old.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

OWNED = re.compile(r"^load-(\d+)-(\d+|x)-")
UNOWNED_AGE_S = 24 * 3600


def process_start_time(pid: int) -> int | None:
    """When a process started (clock ticks since boot, /proc/<pid>/stat field 22); None if unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, start: int | None = None) -> bool:
    """Whether process `pid` runs (and, given `start`, is the one that started then)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start is None or process_start_time(pid) in (None, start)


def new_staging_folder(incoming: Path) -> Path:
    """A private folder (0700) for this process's delivery, named after the process."""
    incoming = Path(incoming)
    incoming.mkdir(parents=True, exist_ok=True)
    start = process_start_time(os.getpid())
    return Path(tempfile.mkdtemp(prefix=f"load-{os.getpid()}-{start if start is not None else 'x'}-", dir=incoming))


def clean_staging(incoming: Path, keep: Path | None = None) -> list[Path]:
    """Remove the staging folders of loads whose process is gone; returns what was removed."""
    incoming = Path(incoming)
    removed = []
    if not incoming.is_dir():
        return removed
    for folder in incoming.iterdir():
        if keep is not None and folder == keep:
            continue
        if folder.is_symlink() or not folder.is_dir():
            continue
        m = OWNED.match(folder.name)
        if m:
            pid, start = int(m.group(1)), None if m.group(2) == "x" else int(m.group(2))
            if pid == os.getpid() and (start is None or start == process_start_time(pid)):
                continue  # this process's own folder
            if process_alive(pid, start):
                continue  # a load that is still running (or waiting for the warehouse lock)
        else:
            try:
                if time.time() - folder.stat().st_mtime < UNOWNED_AGE_S:
                    continue
            except OSError:
                continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
