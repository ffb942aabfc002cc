"""Where things live. Every path can be overridden by an environment variable.

TRUST_DATA_DIR        root of all data (default: <repo>/data)
TRUST_LANDING_DIR     delivered files (default: $TRUST_DATA_DIR/landing)
TRUST_WAREHOUSE_PATH  the DuckDB warehouse (default: $TRUST_DATA_DIR/warehouse/trust.duckdb)
TRUST_PUBLISHED_PATH  the snapshot reports read (default: $TRUST_DATA_DIR/published/trust_reports.duckdb)
TRUST_CODEBOOK_DIR    wave codebooks wave_<year>.yml (default: ingest/codebooks)
TRUST_TODAY           the date deliveries are checked against (default: the system date)
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CODEBOOK_DIR = Path(__file__).resolve().parent / "codebooks"


def read_seed(name: str) -> list[dict]:
    """Rows of a dbt seed, e.g. "admin_indicators" or "reference/ref_municipalities_2021"."""
    import csv

    with (DBT_SEED_DIR / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def current_boundary_set() -> str:
    """The boundary set in force now: the row of seed reference/boundary_sets without an end date."""
    current = [r["boundary_set"] for r in read_seed("reference/boundary_sets") if not r["valid_to"]]
    if len(current) != 1:
        raise ValueError(f"seed reference/boundary_sets must have exactly one set without valid_to, has {current}")
    return current[0]




def today(delivered: str | os.PathLike | None = None, sha256: str | None = None) -> "datetime.date":
    """The date deliveries are checked against (no year is capped by a constant).

    ``TRUST_TODAY`` (YYYY-MM-DD) when set, e.g. by tests that load a 2031 wave; else the system
    date. The bundled synthetic sample simulates deliveries up to its last year (2028), which may
    lie ahead of the machine's clock: for a file that is *part of the generated sample* (its
    checksum is in the sample manifest the generator wrote into the landing folder,
    ingest/pseudonym.py) the clock is at least 1 January after the sample's last year. Any other
    file, wherever it lies, is checked against the real date. `sha256`: the checksum of the bytes
    that were read (the loader parses an archived copy of `delivered`; its checksum decides)."""
    import datetime

    text = os.environ.get("TRUST_TODAY", "").strip()
    if text:
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"TRUST_TODAY must be a date YYYY-MM-DD, not {text!r}") from None
    clock = datetime.date.today()
    last = _sample_last_year(Path(delivered), sha256) if delivered is not None else None
    if last is not None:
        clock = max(clock, datetime.date(last + 1, 1, 1))
    return clock


def _sample_last_year(delivered: Path, sha256: str | None = None) -> int | None:
    """The sample's last year, if `delivered` is one of the files the sample generator made."""
    from ingest.pseudonym import SAMPLE_MANIFEST

    path = Path(os.path.abspath(delivered))
    for folder in list(path.parents)[:4]:
        manifest = folder / SAMPLE_MANIFEST
        if manifest.is_file():
            shas, last = _manifest(str(manifest), manifest.stat().st_mtime_ns)
            if last is None:
                return None
            if sha256 is not None:
                return last if sha256 in shas else None
            return last if path.is_file() and _sha256(str(path), path.stat().st_mtime_ns) in shas else None
    return None


@functools.lru_cache(maxsize=4)
def _manifest(path: str, _mtime_ns: int) -> tuple[frozenset, int | None]:
    import json

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return frozenset(doc.get("sha256", [])), doc.get("last_year")
    except (ValueError, AttributeError, TypeError):
        return frozenset(), None


@functools.lru_cache(maxsize=4096)
def _sha256(path: str, _mtime_ns: int) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def latest_allowed_year(delivered: str | os.PathLike | None = None, sha256: str | None = None) -> int:
    """The latest report or wave year a delivery may carry: the year of ``today()``."""
    return today(delivered, sha256).year


@functools.lru_cache(maxsize=1)
def first_allowed_year() -> int:
    """The earliest report year with reference units (seed reference/boundary_sets)."""
    return min(int(r["first_report_year"]) for r in read_seed("reference/boundary_sets"))


def codebook_dir() -> Path:
    return Path(os.environ.get("TRUST_CODEBOOK_DIR") or CODEBOOK_DIR)
CONFIG_DIR = Path(__file__).resolve().parent / "config"
REPORTS_DIR = REPO_ROOT / "reports"
DBT_SEED_DIR = REPO_ROOT / "dbt_project" / "seeds"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    published_path: Path

    @property
    def survey_landing(self) -> Path:
        return self.landing_dir / "survey"

    @property
    def admin_landing(self) -> Path:
        return self.landing_dir / "admin"

    @property
    def quality_dir(self) -> Path:
        """Great Expectations' store and Data Docs (gx/uncommitted/data_docs/local_site/index.html)."""
        return self.data_dir / "quality"

    def ensure(self) -> "Paths":
        for p in (self.landing_dir, self.warehouse_path.parent, self.published_path.parent):
            p.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(data_dir: str | os.PathLike | None = None) -> Paths:
    """Paths under an explicit data dir; without one, from the environment or the defaults."""
    if data_dir is not None:
        root = Path(data_dir).resolve()
        return Paths(root, root / "landing", root / "warehouse" / "trust.duckdb",
                     root / "published" / "trust_reports.duckdb")
    env = os.environ
    root = Path(env.get("TRUST_DATA_DIR") or REPO_ROOT / "data").resolve()
    return Paths(
        root,
        Path(env.get("TRUST_LANDING_DIR") or root / "landing").resolve(),
        Path(env.get("TRUST_WAREHOUSE_PATH") or root / "warehouse" / "trust.duckdb").resolve(),
        Path(env.get("TRUST_PUBLISHED_PATH") or root / "published" / "trust_reports.duckdb").resolve(),
    )
