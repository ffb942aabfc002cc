"""Fixtures: the pipeline runs once on the seeded sample in a temp dir; tests assert on it.

The expected values come from the generator's own truth (``sample_truth.json``, computed
in pandas from the rows it generated) or from the published 2017 report, never from
what the pipeline printed.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Tests load hand-made deliveries besides the sample, which the built-in sample salt refuses (ingest/pseudonym.py).
os.environ.setdefault("TRUST_PSEUDONYM_SALT", "test-session-salt-not-a-secret")
# The tests replay deliveries of the sample's period (waves up to 2028, a new wave 2029): their clock is
# mid-2029 (ingest/settings.today). Tests of the calendar itself set their own TRUST_TODAY.
os.environ.setdefault("TRUST_TODAY", "2029-06-30")
# A report build that cannot finish must not hold the suite for the default 10 minutes.
os.environ.setdefault("TRUST_REPORT_TIMEOUT", "300")
# The Evidence site takes about two minutes to build: pipeline runs in tests skip it; the report
# tests (tests/test_report_pages.py) build it once per state and look at it.
os.environ.setdefault("TRUST_REPORTS", "skip")

from ingest.sample import TRUTH_FILE, generate_sample  # noqa: E402
from ingest.settings import resolve_paths, Paths  # noqa: E402
from ingest.warehouse import connect  # noqa: E402

TRUST_ENV = ("TRUST_DATA_DIR", "TRUST_LANDING_DIR", "TRUST_WAREHOUSE_PATH", "TRUST_PUBLISHED_PATH")


@dataclass
class Build:
    paths: Paths
    truth: dict
    summary: object  # orchestration.pipeline.RunSummary
    instance: object  # the Dagster instance the run was recorded in

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.warehouse_path), read_only=True)

    def snapshot(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.published_path), read_only=True)


def use_data_dir(mp: pytest.MonkeyPatch, data_dir: Path) -> Paths:
    for var in TRUST_ENV:
        mp.delenv(var, raising=False)
    mp.setenv("TRUST_DATA_DIR", str(data_dir))
    return resolve_paths().ensure()


def run_pipeline(instance=None, **kwargs):
    from dagster import DagsterInstance

    from orchestration.pipeline import run_build

    if instance is not None:
        return run_build(instance=instance, log_level="WARNING", **kwargs)
    with DagsterInstance.ephemeral() as instance:
        return run_build(instance=instance, log_level="WARNING", **kwargs)


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory) -> Build:
    mp = pytest.MonkeyPatch()
    paths = use_data_dir(mp, tmp_path_factory.mktemp("sample_build"))
    generate_sample(paths.landing_dir)
    truth = json.loads((paths.data_dir / TRUTH_FILE).read_text(encoding="utf-8"))
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        summary = run_pipeline(instance)
        yield Build(paths, truth, summary, instance)
    mp.undo()


@pytest.fixture
def copy_of_build(sample_build, tmp_path, monkeypatch) -> Paths:
    """A private copy of the built data dir (landing, warehouse, snapshot) to break things in."""
    target = tmp_path / "data"
    shutil.copytree(sample_build.paths.data_dir, target)
    return use_data_dir(monkeypatch, target)


@pytest.fixture
def con(tmp_path):
    """An empty warehouse (schemas and audit tables created) in a temp dir, for loader tests."""
    c = connect(tmp_path / "wh.duckdb")
    yield c
    c.close()
