"""The pseudonymised respondent key, and the salt that keeps it from being reversed.

The key is ``left(sha256("<wave>:<firm's respondent id>:<salt>"), 24)``. Firms number respondents
sequentially, so without a secret salt anyone could rebuild the keys by enumeration: the salt comes
from TRUST_PSEUDONYM_SALT (or a file named by TRUST_PSEUDONYM_SALT_FILE), and never appears in SQL,
in dbt's compiled files or in the warehouse (dbt's Python model int_survey__respondent_keys reads it
from the environment). The built-in sample salt is for the bundled synthetic sample only: a run
with it says so loudly, and refuses any delivery that is not part of the generated sample
(its checksums are listed in the sample manifest).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ingest.checksums import sha256_of
from ingest.settings import SAMPLE_MANIFEST, Settings  # noqa: F401 (SAMPLE_MANIFEST re-exported)

SAMPLE_SALT = "trust-warehouse-sample"


def salt(settings: Settings | None = None) -> str:
    """The salt: the file TRUST_PSEUDONYM_SALT_FILE names, else TRUST_PSEUDONYM_SALT, else the sample's.
    Without `settings` (dbt's Python model, in dbt's own process) they are read from the environment."""
    settings = settings or Settings.from_env()
    path = settings.pseudonym_salt_file
    if path:
        text = Path(path).read_text(encoding="utf-8").strip()
        if not text:
            raise ValueError(f"TRUST_PSEUDONYM_SALT_FILE {path} is empty")
        return text
    return settings.pseudonym_salt or SAMPLE_SALT


def uses_sample_salt(settings: Settings | None = None) -> bool:
    return salt(settings) == SAMPLE_SALT


def respondent_key(wave: int, source_id: str, key_salt: str) -> str:
    return hashlib.sha256(f"{wave}:{source_id}:{key_salt}".encode()).hexdigest()[:24]


def write_sample_manifest(landing_dir: Path, last_year: int | None = None) -> Path:
    """List the checksums of the generated sample's files: the only deliveries the sample salt may
    load, and the only ones checked against the sample's own clock (its last year, ingest/settings.today)."""
    landing_dir = Path(landing_dir)
    shas = sorted(sha256_of(p) for p in landing_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    target = landing_dir / SAMPLE_MANIFEST
    target.write_text(json.dumps({"sha256": shas, "last_year": last_year}, indent=0), encoding="utf-8")
    return target


def sample_checksums(landing_dir: Path) -> set[str]:
    path = Path(landing_dir) / SAMPLE_MANIFEST
    try:
        return set(json.loads(path.read_text(encoding="utf-8"))["sha256"])
    except (OSError, ValueError, KeyError):
        return set()


SAMPLE_SALT_WARNING = ("pseudonyms use the built-in SAMPLE salt: fine for the bundled synthetic sample, never for real "
                       "deliveries; set TRUST_PSEUDONYM_SALT (a long random secret, e.g. `openssl rand -hex 32`) "
                       "before loading real data, then rebuild with `make run`")


def check_deliveries_allowed(files: list[Path], landing_dir: Path, settings: Settings | None = None) -> list[Path]:
    """With the sample salt, only files of the generated sample may be loaded: the others are returned
    (the caller refuses to run). With a real salt, every file is allowed."""
    if not uses_sample_salt(settings):
        return []
    allowed = sample_checksums(landing_dir)
    return [p for p in files if sha256_of(p) not in allowed]
