"""Resources, in one place: the warehouse's one writer, its folders for readers, and the dbt CLI."""
from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject

from ingest.settings import REPO_ROOT, Paths, resolve_paths

# dbt is installed next to this Python (the project's venv); make it findable even when the
# venv is not activated (dagster-dbt's manifest preparer looks it up on PATH).
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

DBT_PROJECT = DbtProject(project_dir=REPO_ROOT, profiles_dir=REPO_ROOT / "dbt_project")


def _dbt_sources_mtime() -> float:
    files = [REPO_ROOT / "dbt_project.yml", *(REPO_ROOT / "dbt_project").rglob("*")]
    return max(f.stat().st_mtime for f in files
               if f.is_file() and f.suffix in {".yml", ".sql", ".csv"} and "target" not in f.parts)


def ensure_dbt_manifest() -> Path:
    """Parse the dbt project when there is no manifest yet (fresh clone, CI) or when any dbt
    file changed since it was written, so Dagster never wires a stale graph."""
    manifest = DBT_PROJECT.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _dbt_sources_mtime():
        DBT_PROJECT.preparer.prepare(DBT_PROJECT)
    return manifest


class WarehouseResource(ConfigurableResource):
    """The warehouse's folders, for steps that only read what was published (the report site).
    Empty data_dir = TRUST_* environment variables or the defaults (see ingest/settings.py)."""

    data_dir: str = ""

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.data_dir or None).ensure()


class TrustDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs of every run that this project does not
    use: `dbt --version` in a subprocess (about 4 s; the installed dbt-core's version is read from its
    package metadata instead) and an in-process dbt adapter (about 2 s; dagster-dbt uses it only for
    optional column and row-count metadata, which this project does not fetch)."""

    @cached_property
    def _cli_version(self):
        from importlib.metadata import version as installed

        from packaging import version

        return version.parse(installed("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def make_resources(data_dir: str = "") -> dict:
    from orchestration.writer import WarehouseWriter

    return {
        "writer": WarehouseWriter(data_dir=data_dir),
        "warehouse": WarehouseResource(data_dir=data_dir),
        "dbt": TrustDbtCliResource(project_dir=DBT_PROJECT),
    }
