"""What the landing folder holds, by delivery year.

Layout: ``survey/<wave>/<file(s)>`` (the codebook's ``data_file`` pattern picks the file) and
``admin/<year>/*.xlsx``. A *delivery year* is a wave year or an admin report year; both are
the partitions of the ingest assets. The landing-folder sensor compares the deliveries' checksums
with what the warehouse's audit says it holds (orchestration/automation.py).
"""
from __future__ import annotations

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
