"""What the landing folder holds, by delivery year.

Layout: ``survey/<wave>/<file(s)>`` (the codebook's ``data_file`` pattern picks the file) and
``admin/<year>/*.xlsx``. A *delivery year* is a wave year or an admin report year; both are
the partitions of the ingest assets. The landing-folder sensor compares the deliveries' checksums
with what the warehouse's audit says it holds (orchestration/automation.py).
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
from pathlib import Path

KINDS = ("survey", "admin")


def _year_dirs(root: Path) -> dict[int, Path]:
    if not root.exists():
        return {}
    return {int(d.name): d for d in sorted(root.iterdir()) if d.is_dir() and d.name.isdigit()}


def delivered_years(landing_dir: Path) -> list[int]:
    """Years with any delivered file, survey or admin, in ascending order."""
    years = set()
    for kind in KINDS:
        years |= {y for y, d in _year_dirs(Path(landing_dir) / kind).items() if any(p.is_file() for p in d.iterdir())}
    return sorted(years)


def codebook_available(year: int, codebook_dir: Path) -> bool:
    return (Path(codebook_dir) / f"wave_{year}.yml").exists()


class UnsafePattern(ValueError):
    pass


_UNSAFE = re.compile(r"[/\\\x00]|^[A-Za-z]:|^\.\.?$|^~")


def check_file_pattern(pattern: str, what: str = "file pattern") -> str:
    """A delivery file pattern must be a plain file-name glob (``*_dati.csv``): no folder part, no
    ``..``, not absolute. Anything else is refused before any file is looked at."""
    if not isinstance(pattern, str) or not pattern.strip() or _UNSAFE.search(pattern) or ".." in pattern:
        raise UnsafePattern(f"{what} {pattern!r} must be a plain file-name pattern such as '*_dati.csv' "
                            "(no folders, no '..', not absolute)")
    return pattern


def matching_files(folder: Path, pattern: str) -> list[Path]:
    """The files directly inside `folder` whose names match the file-name glob `pattern`, sorted.
    Nothing outside the folder can match: the pattern is checked, and only the folder's own
    entries are compared with it (no path is built from the pattern)."""
    check_file_pattern(pattern)
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and fnmatch.fnmatchcase(p.name, pattern))
