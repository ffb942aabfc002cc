"""Where things live. Every path can be overridden by an environment variable.

TRUST_DATA_DIR        root of all data (default: <repo>/data)
TRUST_LANDING_DIR     delivered files (default: $TRUST_DATA_DIR/landing)
TRUST_WAREHOUSE_PATH  the DuckDB warehouse (default: $TRUST_DATA_DIR/warehouse/trust.duckdb)
TRUST_PUBLISHED_PATH  the snapshot reports read (default: $TRUST_DATA_DIR/published/trust_reports.duckdb)
TRUST_CODEBOOK_DIR    wave codebooks wave_<year>.yml (default: ingest/codebooks)
"""
from __future__ import annotations

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


def latest_allowed_year() -> int:
    """Deliveries for later years are rejected (ingest/config/monitoring.yml)."""
    import datetime

    import yaml

    period = yaml.safe_load((CONFIG_DIR / "monitoring.yml").read_text(encoding="utf-8"))
    return max(datetime.date.today().year, int(period["last_year"]))


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
