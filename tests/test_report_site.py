"""The report step never hangs: offline it says why it did not build, and a build that runs
past its time limit is killed."""
from __future__ import annotations

import sys
import time

from orchestration import report_site


def test_offline_probe_reports_why(tmp_path, monkeypatch):
    monkeypatch.setattr(report_site, "EXTENSION_HOST", "extensions.invalid")
    monkeypatch.setattr(report_site, "REPORTS_DIR", report_site.REPORTS_DIR)
    snapshot = tmp_path / "s.duckdb"
    snapshot.write_bytes(b"")
    fake_reports = tmp_path / "reports"
    (fake_reports / "node_modules" / "@evidence-dev" / "evidence").mkdir(parents=True)
    t0 = time.monotonic()
    result = report_site.build_site(snapshot, tmp_path / "log.txt", reports_dir=fake_reports, mode="auto")
    assert not result.built and "offline" in result.reason and "extensions.invalid" in result.reason
    assert time.monotonic() - t0 < 10


def test_missing_node_modules_is_reported(tmp_path):
    result = report_site.build_site(tmp_path / "s.duckdb", tmp_path / "log.txt", reports_dir=tmp_path, mode="force")
    assert not result.built and "make setup" in result.reason


def test_a_step_past_its_deadline_is_killed(tmp_path):
    t0 = time.monotonic()
    with (tmp_path / "log.txt").open("w") as log:
        rc = report_site._run([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, log,
                              deadline=time.monotonic() + 1.5)
    assert rc is None
    assert time.monotonic() - t0 < 10
