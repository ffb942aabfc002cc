"""What the landing folder holds, by delivery year.

Layout: ``survey/<wave>/<file(s)>`` (the codebook's ``data_file`` pattern picks the file) and
``admin/<year>/*.xlsx``. A *delivery year* is a wave year or an admin report year; both are
the partitions of the ingest assets. The landing-folder sensor compares the deliveries' checksums
with what the warehouse's audit says it holds (orchestration/automation.py).

Entries are looked at with ``lstat``, never through a link: a year folder that is a symbolic link
(``admin/2030 -> /home/x``) is an entry to refuse, not a folder to enter (ingest/intake.py).
"""
from __future__ import annotations

import os
from pathlib import Path

from ingest.intake import entry_problem

KINDS = ("survey", "admin")


def year_entries(root: Path) -> list[tuple[int, Path, str | None]]:
    """(year, entry, problem) for every entry of ``survey/`` or ``admin/`` named by a year: problem is
    None for a real folder, else what the entry is instead (a link, a file, ...). A ``survey/`` or
    ``admin/`` that is itself a link is not entered (its years are not deliveries)."""
    root = Path(root)
    if not root.is_dir() or root.is_symlink():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if not d.name.isdigit():
            continue
        problem = entry_problem(d)
        out.append((int(d.name), d, None if problem == "a folder" else problem or "a file where a year folder "
                    "belongs"))
    return out


def _has_entries(folder: Path) -> bool:
    try:
        return any(not e.name.startswith(".") for e in os.scandir(folder))
    except OSError:
        return False


def delivered_years(landing_dir: Path) -> list[int]:
    """Years with any delivered entry, survey or admin, in ascending order (entries that are not
    regular files count: the run refuses them by name)."""
    years = set()
    for kind in KINDS:
        for year, d, problem in year_entries(Path(landing_dir) / kind):
            if problem is not None or _has_entries(d):
                years.add(year)
    return sorted(years)


def codebook_available(year: int, codebook_dir: Path) -> bool:
    return os.path.lexists(Path(codebook_dir) / f"wave_{year}.yml")
