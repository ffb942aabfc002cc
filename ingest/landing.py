"""What the landing folder holds, by delivery year.

Layout: ``survey/<wave>/<file(s)>`` (the codebook's ``data_file`` pattern picks the file) and
``admin/<year>/*.xlsx``. A *delivery year* is a wave year or an admin report year; both are
the partitions of the ingest assets. Fingerprints (name, size, modification time) tell the
landing-folder sensor that something arrived or changed, without reading the files; the
loaders decide by checksum whether a file is new.
"""
from __future__ import annotations

import hashlib
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


def fingerprints(landing_dir: Path) -> dict[int, dict[str, str]]:
    """{year: {kind: fingerprint}} for every delivered year and kind."""
    out: dict[int, dict[str, str]] = {}
    for kind in KINDS:
        for year, d in _year_dirs(Path(landing_dir) / kind).items():
            files = sorted(p for p in d.iterdir() if p.is_file())
            if not files:
                continue
            h = hashlib.sha256()
            for p in files:
                st = p.stat()
                h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            out.setdefault(year, {})[kind] = h.hexdigest()[:16]
    return out


def codebook_available(year: int, codebook_dir: Path) -> bool:
    return (Path(codebook_dir) / f"wave_{year}.yml").exists()
