"""Resources, in one place: the warehouse's one writer, its folders for readers, and the dbt CLI."""
from __future__ import annotations

import functools
from functools import cached_property
from importlib.metadata import version as installed
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from ingest.settings import REPO_ROOT, Paths, Settings, put_tools_on_path, resolve_paths

DBT_PROJECT_DIR = REPO_ROOT  # dbt_project.yml; its models, seeds and profiles.yml are under dbt_project/


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project, made when first needed (never at import)."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=REPO_ROOT / "dbt_project")


def _dbt_sources_mtime() -> float:
    files = [REPO_ROOT / "dbt_project.yml", *(REPO_ROOT / "dbt_project").rglob("*")]
    return max(f.stat().st_mtime for f in files
               if f.is_file() and f.suffix in {".yml", ".sql", ".csv"} and "target" not in f.parts)


def ensure_dbt_manifest() -> Path:
    """Parse the dbt project when there is no manifest yet (fresh clone, CI) or when any dbt
    file changed since it was written, so Dagster never wires a stale graph. Called when the
    definitions are built (orchestration/definitions.py), never at import."""
    project = dbt_project()
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _dbt_sources_mtime():
        put_tools_on_path()  # dagster-dbt's manifest preparer looks dbt up on PATH
        project.preparer.prepare(project)
    return manifest


class WarehouseResource(ConfigurableResource):
    """The warehouse's folders, for steps that only read what was published (the report site).
    Empty data_dir = the settings' folders (TRUST_* environment variables or the defaults, ingest/settings.py)."""

    data_dir: str = ""

    @property
    def settings(self) -> Settings:
        return Settings.from_env()

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.data_dir or None, self.settings).ensure()


class TrustDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs of every run that this project does not
    use: `dbt --version` in a subprocess (about 4 s; the installed dbt-core's version is read from its
    package metadata instead) and an in-process dbt adapter (about 2 s; dagster-dbt uses it only for
    optional column and row-count metadata, which this project does not fetch)."""

    @cached_property
    def _cli_version(self):
        return version.parse(installed("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None
