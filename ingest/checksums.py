"""The checksum every part of the warehouse names a file by: sha256 of its bytes, read in chunks.

A leaf module (no imports of our own), so the archive, the pseudonym's sample manifest, the settings'
sample clock and the loader all share one helper without importing each other."""
from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


sha256_of = sha256_file  # the loader's and the sensor's name for it
