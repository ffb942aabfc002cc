"""The report step never hangs and says why it did not build; the offline patch of Evidence is in
place and refuses versions it was not written for. (The site itself is built and looked at in
tests/test_report_pages.py.)"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from ingest.settings import REPORTS_DIR
from orchestration import report_site

PATCH_SCRIPT = REPORTS_DIR / "scripts" / "patch-evidence-offline.mjs"
USQL = REPORTS_DIR / "node_modules" / "@evidence-dev" / "universal-sql"
needs_node_modules = pytest.mark.skipif(not USQL.exists() or shutil.which("node") is None,
                                        reason="reports/node_modules not installed (run `make setup`)")


def test_skip_mode_builds_nothing(tmp_path):
    result = report_site.build_site(tmp_path / "s.duckdb", tmp_path / "log.txt", mode="skip")
    assert not result.built and "TRUST_REPORTS=skip" in result.reason


def test_missing_node_modules_is_reported(tmp_path):
    result = report_site.build_site(tmp_path / "s.duckdb", tmp_path / "log.txt", reports_dir=tmp_path, mode="auto")
    assert not result.built and "make setup" in result.reason


def test_evidence_without_the_offline_patch_is_not_started(tmp_path):
    """An unpatched Evidence would wait for ever on a download: the step says so at once instead."""
    fake = tmp_path / "reports"
    (fake / "node_modules" / "@evidence-dev" / "evidence").mkdir(parents=True)
    src = fake / "node_modules" / "@evidence-dev" / "universal-sql" / "src" / "client-duckdb"
    src.mkdir(parents=True)
    (src / "node.js").write_text("// unpatched\n")
    t0 = time.monotonic()
    result = report_site.build_site(tmp_path / "s.duckdb", tmp_path / "log.txt", reports_dir=fake, mode="auto")
    assert not result.built and "offline patch" in result.reason and "client-duckdb/node.js" in result.reason
    assert time.monotonic() - t0 < 5


def test_data_files_of_an_earlier_build_are_removed_before_a_build(tmp_path):
    """An earlier snapshot's parquet files (with figures a later snapshot withholds) never ship again."""
    stale = [tmp_path / ".evidence" / "template" / "static" / "data" / "warehouse" / "old" / "old.parquet",
             tmp_path / "build" / "data" / "warehouse" / "indicator_estimates" / "01118f3c" / "old.parquet"]
    for f in stale:
        f.parent.mkdir(parents=True)
        f.write_bytes(b"PAR1")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "index.md").write_text("# kept\n")
    report_site.clear_previous_data(tmp_path)
    assert not any(f.exists() for f in stale)
    assert (tmp_path / "pages" / "index.md").exists()


def test_a_step_past_its_deadline_is_killed(tmp_path):
    t0 = time.monotonic()
    with (tmp_path / "log.txt").open("w") as log:
        rc = report_site._run([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, log,
                              deadline=time.monotonic() + 1.5)
    assert rc is None
    assert time.monotonic() - t0 < 10


def test_python_and_the_patch_script_agree_on_the_mark():
    assert report_site.OFFLINE_PATCH_MARK in PATCH_SCRIPT.read_text(encoding="utf-8")


@needs_node_modules
def test_installed_evidence_is_patched():
    assert report_site.offline_patch_missing(REPORTS_DIR) == []
    out = subprocess.run(["node", str(PATCH_SCRIPT), "--check"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    node_js = (USQL / "src" / "client-duckdb" / "node.js").read_text(encoding="utf-8")
    assert "read_parquet" not in node_js  # nothing left that would download DuckDB's parquet extension


@needs_node_modules
def test_codemirror_is_pinned_to_6_0_2():
    """npm's latest codemirror (6.65.x) is CodeMirror 5 code that reads `navigator` at import: the build breaks."""
    versions = {json.loads(p.read_text())["version"] for p in (REPORTS_DIR / "node_modules").rglob("codemirror/package.json")
                if p.parent.name == "codemirror"}
    assert versions == {"6.0.2"}


@needs_node_modules
def test_the_patch_refuses_an_evidence_it_was_not_written_for(tmp_path):
    """Upgrading Evidence under the patch stops `npm install` with the versions it expects."""
    fake = tmp_path / "reports"
    usql = fake / "node_modules" / "@evidence-dev" / "universal-sql"
    shutil.copytree(USQL / "src", usql / "src")
    (usql / "package.json").write_text(json.dumps({"name": "@evidence-dev/universal-sql", "version": "3.1.0"}))
    for name in ("@evidence-dev/evidence", "@duckdb/duckdb-wasm", "parquet-wasm"):
        pkg = fake / "node_modules" / name
        pkg.mkdir(parents=True)
        shutil.copyfile(REPORTS_DIR / "node_modules" / name / "package.json", pkg / "package.json")
    out = subprocess.run(["node", str(PATCH_SCRIPT), str(fake)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "@evidence-dev/universal-sql 3.0.1" in out.stderr and "@evidence-dev/universal-sql 3.1.0" in out.stderr


@needs_node_modules
def test_the_patch_applies_to_pristine_sources_and_is_idempotent(tmp_path):
    """The edits find their anchors in the original files (the package tarball from npm's cache, which
    `npm install` filled; no network), and a second run changes nothing."""
    import tarfile

    fake = tmp_path / "reports"
    for name in ("@evidence-dev/evidence", "@duckdb/duckdb-wasm", "parquet-wasm"):
        pkg = fake / "node_modules" / name
        pkg.mkdir(parents=True)
        shutil.copyfile(REPORTS_DIR / "node_modules" / name / "package.json", pkg / "package.json")
    packed = subprocess.run(["npm", "pack", "@evidence-dev/universal-sql@3.0.1", "--offline", "--pack-destination",
                             str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert packed.returncode == 0, f"the tarball is not in npm's cache: {packed.stderr[-500:]}"
    usql = fake / "node_modules" / "@evidence-dev" / "universal-sql"
    with tarfile.open(next(tmp_path.glob("evidence-dev-universal-sql-3.0.1.tgz"))) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    shutil.copytree(tmp_path / "unpacked" / "package", usql)
    assert "read_parquet" in (usql / "src" / "client-duckdb" / "node.js").read_text(encoding="utf-8")

    first = subprocess.run(["node", str(PATCH_SCRIPT), str(fake)], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert report_site.offline_patch_missing(fake) == []
    patched = {p: p.read_bytes() for p in (usql / "src").rglob("*.js")}
    for f in ("build-parquet.js", "client-duckdb/node.js", "client-duckdb/browser.js"):
        assert patched[usql / "src" / f] == (USQL / "src" / f).read_bytes(), f"{f} differs from the installed one"
    second = subprocess.run(["node", str(PATCH_SCRIPT), str(fake)], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and len(re.findall("already patched", second.stdout)) == 3
    assert {p: p.read_bytes() for p in (usql / "src").rglob("*.js")} == patched
