"""Durability on disk: a folder's entries survive a crash only once the folder itself is synced."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Sync a folder, so that files created, renamed or removed in it stay so after a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
