"""Where things live and how a run behaves: the one module that reads the environment.

`Settings.from_env()` reads every variable once into a frozen, typed `Settings`; everything else
receives the settings (or values from them) as arguments or through the Dagster resources. The
variables, their defaults and what they do: docs/configuration.md (one row per `Settings` field;
each field names its variable in its metadata). Processes this one starts (dbt, Dagster, npm) get
their environment from `child_env`, built here too.
"""
from __future__ import annotations

import csv
import datetime
import functools
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from ingest.checksums import sha256_file

REPO_ROOT = Path(__file__).resolve().parent.parent
CODEBOOK_DIR = Path(__file__).resolve().parent / "codebooks"


def read_seed(name: str) -> list[dict]:
    """Rows of a dbt seed, e.g. "admin_indicators" or "reference/ref_municipalities_2021"."""
    with (DBT_SEED_DIR / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def current_boundary_set() -> str:
    """The boundary set in force now: the row of seed reference/boundary_sets without an end date."""
    current = [r["boundary_set"] for r in read_seed("reference/boundary_sets") if not r["valid_to"]]
    if len(current) != 1:
        raise ValueError(f"seed reference/boundary_sets must have exactly one set without valid_to, has {current}")
    return current[0]




def today(delivered: str | os.PathLike | None = None, sha256: str | None = None,
          settings: "Settings | None" = None) -> datetime.date:
    """The date deliveries are checked against (no year is capped by a constant).

    ``settings.today`` (TRUST_TODAY, YYYY-MM-DD) when set, e.g. by tests that load a 2031 wave; else
    the system date. The bundled synthetic sample simulates deliveries up to its last year (2028),
    which may lie ahead of the machine's clock: for a file that is *part of the generated sample* (its
    checksum is in the sample manifest the generator wrote into the landing folder,
    ingest/pseudonym.py) the clock is at least 1 January after the sample's last year. Any other
    file, wherever it lies, is checked against the real date. `sha256`: the checksum of the bytes
    that were read (the loader parses an archived copy of `delivered`; its checksum decides).
    Without `settings` (a reader called deep in the loader), they are read from the environment here."""
    fixed = (settings or Settings.from_env()).today
    if fixed is not None:
        return fixed
    clock = datetime.date.today()
    last = _sample_last_year(Path(delivered), sha256) if delivered is not None else None
    if last is not None:
        clock = max(clock, datetime.date(last + 1, 1, 1))
    return clock


SAMPLE_MANIFEST = ".sample-manifest.json"  # in the landing folder, written by the sample generator (ingest/pseudonym.py)


def _sample_last_year(delivered: Path, sha256: str | None = None) -> int | None:
    """The sample's last year, if `delivered` is one of the files the sample generator made."""
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
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return frozenset(doc.get("sha256", [])), doc.get("last_year")
    except (ValueError, AttributeError, TypeError):
        return frozenset(), None


@functools.lru_cache(maxsize=4096)
def _sha256(path: str, _mtime_ns: int) -> str:
    return sha256_file(path)


def latest_allowed_year(delivered: str | os.PathLike | None = None, sha256: str | None = None,
                        settings: "Settings | None" = None) -> int:
    """The latest report or wave year a delivery may carry: the year of ``today()``."""
    return today(delivered, sha256, settings).year


@functools.lru_cache(maxsize=1)
def first_allowed_year() -> int:
    """The earliest report year with reference units (seed reference/boundary_sets)."""
    return min(int(r["first_report_year"]) for r in read_seed("reference/boundary_sets"))


def codebook_dir(settings: "Settings | None" = None) -> Path:
    """Where the wave codebooks wave_<year>.yml live (TRUST_CODEBOOK_DIR, default ingest/codebooks)."""
    return (settings or Settings.from_env()).codebook_dir


CONFIG_DIR = Path(__file__).resolve().parent / "config"
REPORTS_DIR = REPO_ROOT / "reports"
DBT_SEED_DIR = REPO_ROOT / "dbt_project" / "seeds"
SUITES_DIR = REPO_ROOT / "expectations" / "suites"
DEFAULT_DAGSTER_HOME = REPO_ROOT / ".dagster_home"


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


def _env(name: str, default: str | None = None, *, doc: str) -> dict:
    return {"env": name, "default": default, "doc": doc}


def _path(text: str | None) -> Path | None:
    return Path(text).resolve() if text else None


@dataclass(frozen=True)
class Settings:
    """Every setting the environment can give, read once (`from_env`). Each field's metadata names its
    variable, its default in words and what it does: docs/configuration.md is the same table."""

    data_dir: Path = field(metadata=_env("TRUST_DATA_DIR", "`<repo>/data`", doc="root of all data"))
    landing_dir: Path = field(metadata=_env("TRUST_LANDING_DIR", "`$TRUST_DATA_DIR/landing`",
                                            doc="the delivered files (survey/<wave>/, admin/<year>/)"))
    warehouse_path: Path = field(metadata=_env("TRUST_WAREHOUSE_PATH", "`$TRUST_DATA_DIR/warehouse/trust.duckdb`",
                                               doc="the DuckDB warehouse"))
    published_path: Path = field(metadata=_env(
        "TRUST_PUBLISHED_PATH", "`$TRUST_DATA_DIR/published/trust_reports.duckdb`", doc="the snapshot reports read"))
    archive_dir: Path | None = field(default=None, metadata=_env(
        "TRUST_ARCHIVE_DIR", "`archive/` beside the warehouse", doc="the immutable archive of every delivered file"))
    codebook_dir: Path = field(default=CODEBOOK_DIR, metadata=_env(
        "TRUST_CODEBOOK_DIR", "`ingest/codebooks`", doc="the wave codebooks wave_<year>.yml"))
    suites_dir: Path = field(default=SUITES_DIR, metadata=_env(
        "TRUST_SUITES_DIR", "`expectations/suites`",
        doc="the Great Expectations suites of the plausibility gates (the benchmark points it at a copy with "
            "bounds widened for its scaled samples)"))
    today: datetime.date | None = field(default=None, metadata=_env(
        "TRUST_TODAY", "the system date", doc="the date deliveries are checked against (YYYY-MM-DD)"))
    pseudonym_salt: str | None = field(default=None, repr=False, metadata=_env(
        "TRUST_PSEUDONYM_SALT", "the built-in sample salt",
        doc="the secret salt of the respondent pseudonyms (required for real deliveries)"))
    pseudonym_salt_file: Path | None = field(default=None, metadata=_env(
        "TRUST_PSEUDONYM_SALT_FILE", "none", doc="a file holding the salt (wins over TRUST_PSEUDONYM_SALT)"))
    lock_timeout: float = field(default=900.0, metadata=_env(
        "TRUST_LOCK_TIMEOUT", "900", doc="seconds a second writer waits for the warehouse lock before it fails"))
    reports: str = field(default="auto", metadata=_env(
        "TRUST_REPORTS", "auto", doc="`auto` builds the Evidence report site after a run, `skip` does not"))
    report_timeout: float = field(default=600.0, metadata=_env(
        "TRUST_REPORT_TIMEOUT", "600", doc="seconds the site's `npm run sources` and build may take together"))
    report_strict: bool = field(default=False, metadata=_env(
        "TRUST_REPORT_STRICT", "off",
        doc="`1`/`true`/`yes`: `evidence build:strict` (fails on any query or component error; CI and tests)"))
    dagster_home: Path = field(default=DEFAULT_DAGSTER_HOME, metadata=_env(
        "DAGSTER_HOME", "`.dagster_home/`", doc="Dagster's instance (run history, sensor state, run queue)"))
    fault: str = field(default="", metadata=_env(
        "TRUST_FAULT_AT", "empty (no fault)",
        doc="**tests only**: inject a fault: kill the process at a named point, or make a dbt model or test fail "
            "(ingest/faults.py lists them)"))
    trace_checkpoints: Path | None = field(default=None, metadata=_env(
        "TRUST_TRACE_CHECKPOINTS", "none",
        doc="**tests only**: append every fault point a process passes to this file (the random-kill trials)"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings from `environ` (default: this process's environment): the one place it is read."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        root = _path(get("TRUST_DATA_DIR")) or (REPO_ROOT / "data").resolve()
        text = get("TRUST_TODAY")
        try:
            fixed = datetime.date.fromisoformat(text) if text else None
        except ValueError:
            raise ValueError(f"TRUST_TODAY must be a date YYYY-MM-DD, not {text!r}") from None
        return cls(
            data_dir=root,
            landing_dir=_path(get("TRUST_LANDING_DIR")) or root / "landing",
            warehouse_path=_path(get("TRUST_WAREHOUSE_PATH")) or root / "warehouse" / "trust.duckdb",
            published_path=_path(get("TRUST_PUBLISHED_PATH")) or root / "published" / "trust_reports.duckdb",
            archive_dir=Path(get("TRUST_ARCHIVE_DIR")) if get("TRUST_ARCHIVE_DIR") else None,
            codebook_dir=Path(get("TRUST_CODEBOOK_DIR") or CODEBOOK_DIR),
            suites_dir=Path(get("TRUST_SUITES_DIR") or SUITES_DIR),
            today=fixed,
            pseudonym_salt=env.get("TRUST_PSEUDONYM_SALT") or None,
            pseudonym_salt_file=Path(get("TRUST_PSEUDONYM_SALT_FILE")) if get("TRUST_PSEUDONYM_SALT_FILE") else None,
            lock_timeout=float(get("TRUST_LOCK_TIMEOUT") or 900),
            reports=(get("TRUST_REPORTS") or "auto").lower(),
            report_timeout=float(get("TRUST_REPORT_TIMEOUT") or 600),
            report_strict=get("TRUST_REPORT_STRICT").lower() in ("1", "true", "yes"),
            dagster_home=Path(get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME),
            fault=get("TRUST_FAULT_AT"),
            trace_checkpoints=Path(get("TRUST_TRACE_CHECKPOINTS")) if get("TRUST_TRACE_CHECKPOINTS") else None,
        )

    @property
    def paths(self) -> "Paths":
        return Paths(self.data_dir, self.landing_dir, self.warehouse_path, self.published_path)


DELIVERY_ARGUMENTS = ("FILE", "CODEBOOK", "WITH", "WAVE", "YEAR")


def delivery_arguments(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`make load/validate` hand the delivery's FILE, CODEBOOK, WITH, WAVE and YEAR over through the
    environment, exactly as typed (so no shell parses a delivered name): those that are set."""
    env = os.environ if environ is None else environ
    return {name: env[name] for name in DELIVERY_ARGUMENTS if env.get(name)}


def variables() -> dict[str, str]:
    """Every variable `Settings` reads, by field name (docs/configuration.md has one row for each)."""
    return {f.name: f.metadata["env"] for f in fields(Settings)}


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process this one starts (dbt, npm): this process's own, the project's
    virtual environment's tools first on PATH, plus `extra`."""
    env = dict(os.environ)
    env["PATH"] = tools_path(env.get("PATH", ""))
    env.update(extra)
    return env


def tools_path(path: str) -> str:
    """PATH with the directory of this Python (the project's venv: dbt) first, if it is not on it."""
    tools = str(Path(sys.executable).parent)
    return path if tools in path.split(os.pathsep) else tools + os.pathsep + path


def put_tools_on_path() -> None:
    """dbt is installed next to this Python (the project's venv); make it findable even when the venv
    is not activated: dagster-dbt starts `dbt` from PATH with this process's environment. Called when
    dbt is about to be used (never at import)."""
    os.environ["PATH"] = tools_path(os.environ.get("PATH", ""))


def resolve_paths(data_dir: str | os.PathLike | None = None, settings: Settings | None = None) -> Paths:
    """Paths under an explicit data dir; without one, from the settings (default: the environment's)."""
    if data_dir is not None:
        root = Path(data_dir).resolve()
        return Paths(root, root / "landing", root / "warehouse" / "trust.duckdb",
                     root / "published" / "trust_reports.duckdb")
    return (settings or Settings.from_env()).paths
