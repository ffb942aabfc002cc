"""The immutable archive of every delivered file, before it is loaded.

Files are stored content-addressed beside the warehouse: ``<warehouse dir>/archive/<sha256>/<name>``,
owner-only (files 0400, folders 0700). They are written by ``ingest.intake.take``, which reads a
delivered file once, hashes it while copying it here, and hands the loader this copy to parse: the
archived bytes are the parsed bytes. The same file delivered twice is archived once; a corrected
re-delivery (another checksum) gets its own entry, so every version that was ever loaded, rejected
or quarantined can be retrieved from the audit trail (audit.file_loads.archive_path). Only files a
delivery rule matched are archived (a wave's data file, its codebook and code lists; an LM
workbook); entries that are not regular files (links, pipes, devices) are never read.
"""
from __future__ import annotations

from pathlib import Path

from ingest.intake import ArchiveError  # noqa: F401 (re-exported)
from ingest.settings import Settings


def archive_root(warehouse_path: Path, settings: Settings | None = None) -> Path:
    """TRUST_ARCHIVE_DIR, else `archive/` beside the warehouse (settings: default, the environment's)."""
    return (settings or Settings.from_env()).archive_dir or Path(warehouse_path).parent / "archive"
