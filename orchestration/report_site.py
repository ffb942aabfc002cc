"""Refresh the Evidence report site from the published snapshot, time-boxed.

Evidence's build runs DuckDB-WASM, which downloads its parquet extension from
DuckDB's extension site at build time; without internet the build hangs
(STACK.md). So the step first checks that the npm packages are installed and
that the extension site's name resolves, and then runs ``npm run sources`` and
``npm run build`` with a hard time limit. When it cannot build, it says so and
why, and the run goes on: the asset is recorded with ``built: false`` and the
reason, and the previous site (if any) stays as it was.

TRUST_REPORTS=auto (default) | skip | force (skip the network probe, keep the time limit)
TRUST_REPORT_TIMEOUT=seconds (default 600)
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetExecutionContext, MaterializeResult, asset

from ingest.settings import REPORTS_DIR
from orchestration.resources import WarehouseResource

EXTENSION_HOST = "extensions.duckdb.org"
SNAPSHOT_IN_REPORTS = Path("sources") / "warehouse" / "trust_reports.duckdb"


@dataclass
class SiteBuild:
    built: bool
    reason: str
    output_dir: Path | None = None
    log_path: Path | None = None
    seconds: float = 0.0


def host_resolves(host: str, timeout: float = 3.0) -> bool:
    """Resolve a name in a thread, giving up after `timeout` seconds (getaddrinfo has no timeout)."""
    answer: list[bool] = []

    def probe():
        try:
            socket.getaddrinfo(host, 443)
            answer.append(True)
        except OSError:
            answer.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(answer and answer[0])


def _run(cmd: list[str], cwd: Path, log, deadline: float) -> int | None:
    """Run cmd in its own process group; None if it was killed at the deadline."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "EVIDENCE_TELEMETRY_DISABLED": "true"})
    try:
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def build_site(snapshot: Path, log_path: Path, reports_dir: Path = REPORTS_DIR,
               mode: str | None = None, timeout: float | None = None) -> SiteBuild:
    mode = (mode or os.environ.get("TRUST_REPORTS", "auto")).lower()
    timeout = float(timeout or os.environ.get("TRUST_REPORT_TIMEOUT", 600))
    if mode == "skip":
        return SiteBuild(False, "skipped: TRUST_REPORTS=skip")
    if not (reports_dir / "node_modules" / "@evidence-dev" / "evidence").exists():
        return SiteBuild(False, f"Evidence is not installed in {reports_dir}/node_modules: run `make setup`")
    if mode != "force" and not host_resolves(EXTENSION_HOST):
        return SiteBuild(
            False,
            f"offline: {EXTENSION_HOST} cannot be reached, and Evidence's DuckDB-WASM downloads its parquet "
            "extension from there at build time (it would hang). The published snapshot is ready; build the "
            "site on a machine with internet with `make reports`.",
        )
    shutil.copyfile(snapshot, reports_dir / SNAPSHOT_IN_REPORTS)
    started = time.monotonic()
    deadline = started + timeout
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        for step in (["npm", "run", "sources"], ["npm", "run", "build"]):
            rc = _run(step, reports_dir, log, deadline)
            if rc is None:
                return SiteBuild(False, f"`{' '.join(step)}` did not finish within {timeout:.0f} s (killed); "
                                 f"see {log_path}", None, log_path, time.monotonic() - started)
            if rc != 0:
                return SiteBuild(False, f"`{' '.join(step)}` failed with exit code {rc}; see {log_path}",
                                 None, log_path, time.monotonic() - started)
    return SiteBuild(True, "built", reports_dir / "build", log_path, time.monotonic() - started)


@asset(
    key=["reports", "evidence_site"],
    deps=[["publish", "report_snapshot"]],
    group_name="reports",
    kinds={"evidence"},
    description="The Evidence site in reports/build, refreshed from the published snapshot (time-boxed).",
)
def evidence_site(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    paths = warehouse.paths
    result = build_site(paths.published_path, paths.data_dir / "logs" / "report_build.log")
    if result.built:
        context.log.info(f"report site built in {result.seconds:.0f} s: {result.output_dir}")
    else:
        context.log.warning(f"report site NOT built: {result.reason}")
    return MaterializeResult(
        metadata={
            "built": result.built,
            "reason": result.reason,
            "site": str(result.output_dir) if result.output_dir else "",
            "log": str(result.log_path) if result.log_path else "",
            "seconds": round(result.seconds, 1),
        }
    )


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    import shutil

    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def screenshot(build_dir: Path, page: str, out_png: Path, browser: str, timeout: float = 120) -> Path:
    """Serve the built site on a free local port and take a headless screenshot of `page`
    (e.g. "municipalities/0001000/"). Needs no network beyond localhost."""
    import functools
    import http.server
    import socketserver
    import subprocess
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(build_dir))
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{page.lstrip('/')}"
        try:
            subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--window-size=1280,2400", "--virtual-time-budget=20000", f"--screenshot={out_png}", url],
                           check=True, timeout=timeout, capture_output=True)
        finally:
            httpd.shutdown()
    return out_png
