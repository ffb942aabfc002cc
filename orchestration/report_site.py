"""Build the Evidence report site (reports/build) from the published snapshot, time-boxed.

The site builds offline: reports/scripts/patch-evidence-offline.mjs (run by `npm install`) makes
Evidence read its source tables with parquet-wasm instead of DuckDB-WASM's downloaded parquet
extension. The step copies the snapshot into reports/sources/warehouse/, runs `npm run sources`
and `npm run build` (or `build:strict`) with a hard time limit, and reports what happened; a build
that fails or is killed leaves the previous site in place and the run goes on.

TRUST_REPORTS=auto (default: build) | skip
TRUST_REPORT_TIMEOUT=seconds for sources + build together (default 600)
TRUST_REPORT_STRICT=1: `evidence build:strict` (fails on any query or component error; CI and tests)
"""

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetExecutionContext, MaterializeResult, asset

from ingest.settings import REPORTS_DIR, Settings, child_env
from orchestration.resources import WarehouseResource

SNAPSHOT_IN_REPORTS = Path("sources") / "warehouse" / "trust_reports.duckdb"
# The mark reports/scripts/patch-evidence-offline.mjs puts on top of each file it adapted.
OFFLINE_PATCH_MARK = "/* trust-reports offline parquet patch v2 */"
OFFLINE_PATCHED = ("build-parquet.js", "client-duckdb/node.js", "client-duckdb/browser.js",
                   "client-duckdb/offline-parquet.js")


@dataclass
class SiteBuild:
    built: bool
    reason: str
    output_dir: Path | None = None
    log_path: Path | None = None
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)
    pages: int = 0


def offline_patch_missing(reports_dir: Path) -> list[str]:
    """Files of @evidence-dev/universal-sql that the offline patch has not adapted (empty when applied)."""
    src = reports_dir / "node_modules" / "@evidence-dev" / "universal-sql" / "src"
    missing = []
    for name in OFFLINE_PATCHED:
        try:
            if not (src / name).read_text(encoding="utf-8").startswith(OFFLINE_PATCH_MARK):
                missing.append(name)
        except OSError:
            missing.append(name)
    return missing


# where Evidence writes the source queries' data files, and the site it builds (which copies them):
# neither is emptied by Evidence itself, so files of earlier snapshots would ship beside the current ones
PREVIOUS_OUTPUTS = (Path(".evidence") / "template" / "static" / "data", Path("build"))


def clear_previous_data(reports_dir: Path) -> None:
    """Remove the data files and the site of earlier builds before a build: a reader who downloads the
    site gets the current snapshot's files only, never a figure that a later snapshot withholds."""
    for part in PREVIOUS_OUTPUTS:
        shutil.rmtree(reports_dir / part, ignore_errors=True)


def _run(cmd: list[str], cwd: Path, log, deadline: float) -> int | None:
    """Run cmd in its own process group; None if it was killed at the deadline."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=child_env(EVIDENCE_TELEMETRY_DISABLED="true"))
    try:
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    keep = [ln for ln in text if ln.strip() and "npm warn" not in ln][-lines:]
    return "\n".join(keep)


def build_site(snapshot: Path, log_path: Path, reports_dir: Path = REPORTS_DIR, mode: str | None = None,
               timeout: float | None = None, strict: bool | None = None,
               settings: Settings | None = None) -> SiteBuild:
    """`mode`, `timeout`, `strict`: given, or the settings' (TRUST_REPORTS, TRUST_REPORT_TIMEOUT,
    TRUST_REPORT_STRICT; without `settings`, read from the environment by ingest/settings.py)."""
    if mode is None or timeout is None or strict is None:
        settings = settings or Settings.from_env()
    mode = (mode or settings.reports).lower()
    timeout = float(timeout or settings.report_timeout)
    if strict is None:
        strict = settings.report_strict
    if mode == "skip":
        return SiteBuild(False, "skipped: TRUST_REPORTS=skip")
    if not (reports_dir / "node_modules" / "@evidence-dev" / "evidence").exists():
        return SiteBuild(False, f"Evidence is not installed in {reports_dir}/node_modules: run `make setup`")
    missing = offline_patch_missing(reports_dir)
    if missing:
        return SiteBuild(False, "Evidence is installed without the offline patch (not adapted: "
                         f"{', '.join(missing)}), so its build would wait for a download: run `make setup` "
                         "(npm install runs reports/scripts/patch-evidence-offline.mjs)")
    if not Path(snapshot).exists():
        return SiteBuild(False, f"no published snapshot at {snapshot}")
    shutil.copyfile(snapshot, reports_dir / SNAPSHOT_IN_REPORTS)
    clear_previous_data(reports_dir)
    started = time.monotonic()
    deadline = started + timeout
    log_path.parent.mkdir(parents=True, exist_ok=True)
    steps: dict[str, float] = {}
    build = "build:strict" if strict else "build"
    with log_path.open("w", encoding="utf-8") as log:
        for script in ("sources", build):
            t0 = time.monotonic()
            rc = _run(["npm", "run", script], reports_dir, log, deadline)
            steps[script] = round(time.monotonic() - t0, 1)
            if rc is None:
                return SiteBuild(False, f"`npm run {script}` did not finish within {timeout:.0f} s (killed; "
                                 f"TRUST_REPORT_TIMEOUT); see {log_path}", None, log_path,
                                 time.monotonic() - started, steps)
            if rc != 0:
                log.flush()
                return SiteBuild(False, f"`npm run {script}` failed with exit code {rc}; see {log_path}:\n"
                                 + _tail(log_path), None, log_path, time.monotonic() - started, steps)
    output = reports_dir / "build"
    pages = sum(1 for _ in output.rglob("index.html"))
    seconds = time.monotonic() - started
    return SiteBuild(True, f"built {pages} pages in {seconds:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in steps.items())})",
                     output, log_path, seconds, steps, pages)


@asset(
    key=["reports", "evidence_site"],
    deps=[["publish", "report_snapshot"]],
    group_name="reports",
    kinds={"evidence"},
    description="The Evidence site in reports/build, built offline from the published snapshot (time-boxed).",
)
def evidence_site(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    paths = warehouse.paths
    result = build_site(paths.published_path, paths.data_dir / "logs" / "report_build.log", settings=warehouse.settings)
    if result.built:
        context.log.info(f"report site {result.reason}: {result.output_dir}")
    else:
        context.log.warning(f"report site NOT built: {result.reason}")
    return MaterializeResult(metadata=site_metadata(result))


def site_metadata(result: SiteBuild) -> dict:
    """What the run summary shows about the site (RunSummary.report)."""
    return {
        "built": result.built,
        "reason": result.reason,
        "site": str(result.output_dir) if result.output_dir else "",
        "pages": result.pages,
        "log": str(result.log_path) if result.log_path else "",
        "seconds": round(result.seconds, 1),
    }
