"""The report step never hangs: offline it says why it did not build, and a build that runs
past its time limit is killed."""
from __future__ import annotations

import sys
import time

from orchestration import report_site


def test_offline_probe_reports_why(tmp_path, monkeypatch):
    monkeypatch.setattr(report_site, "EXTENSION_HOST", "extensions.invalid")
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


def test_strict_site_build_where_the_network_allows(sample_build, tmp_path):
    """Evidence's build needs DuckDB's extension site (STACK.md). Offline this test is skipped and
    says so; with the network it builds the site strictly from the sample's snapshot."""
    import shutil

    import pytest

    if not (report_site.REPORTS_DIR / "node_modules" / "@evidence-dev" / "evidence").exists():
        pytest.skip("reports/node_modules is not installed (run `make setup`)")
    if not report_site.host_resolves(report_site.EXTENSION_HOST):
        pytest.skip(f"offline: {report_site.EXTENSION_HOST} cannot be reached, so Evidence cannot build "
                    "(its DuckDB-WASM downloads the parquet extension); the SQL contract tests cover the pages")
    result = report_site.build_site(sample_build.paths.published_path, tmp_path / "build.log", mode="force",
                                    timeout=900)
    assert result.built, result.reason
    assert (result.output_dir / "index.html").exists()
    assert (result.output_dir / "municipalities").exists()
    browser = report_site.find_browser()
    if browser is None:
        pytest.skip("site built; no headless Chromium on this machine for the screenshot "
                    f"(looked for {', '.join(report_site.BROWSERS)})")
    pages = sorted(p for p in (result.output_dir / "municipalities").iterdir() if p.is_dir())
    page = next((p for p in pages if p.name == "0001000"), pages[0] if pages else None)
    assert page is not None, "the municipality template produced no page"
    png = report_site.screenshot(result.output_dir, f"municipalities/{page.name}/", tmp_path / "municipality.png",
                                 browser)
    assert png.exists() and png.stat().st_size > 10_000, "the screenshot is empty"
    shutil.copyfile(png, sample_build.paths.data_dir / "municipality_page.png")
