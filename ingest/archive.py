"""Immutable archive of every delivered file, before it is loaded.

Files are stored content-addressed beside the warehouse: ``<warehouse dir>/archive/<sha256>/<name>``,
written under a temporary name, moved into place and made read-only. The same file delivered
twice is archived once; a corrected re-delivery (another checksum) gets its own entry, so every
version that was ever loaded or rejected can be retrieved from the audit trail
(audit.file_loads.archive_path).
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ingest.faults import checkpoint


class ArchiveError(Exception):
    pass


def archive_root(warehouse_path: Path) -> Path:
    return Path(os.environ.get("TRUST_ARCHIVE_DIR") or Path(warehouse_path).parent / "archive")


def archive_file(path: Path, sha256: str, root: Path) -> Path:
    """Copy `path` into the archive (once per checksum) and return the archived path."""
    from ingest.warehouse import sha256_of

    target = Path(root) / sha256 / Path(path).name
    if target.exists():
        if sha256_of(target) != sha256:
            raise ArchiveError(f"archived copy {target} no longer matches its checksum {sha256}: "
                               "the archive was altered; restore it before loading")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(path, tmp)
    checkpoint("archive:copied")
    if sha256_of(tmp) != sha256:
        tmp.unlink(missing_ok=True)
        raise ArchiveError(f"{path} changed while it was being archived; deliver it again")
    os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(tmp, target)
    return target
