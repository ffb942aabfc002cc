"""Serve a built site on 127.0.0.1 and look at its pages in headless Chromium (Debian's package
`chromium`; playwright-core from reports/node_modules drives it, no browser is downloaded)."""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

from ingest.settings import REPORTS_DIR

CHROMIUM_PACKAGE = "chromium"  # Debian/Ubuntu: apt-get install -y chromium
BROWSERS = ("chromium", "chromium-browser")
SCRIPT = REPORTS_DIR / "scripts" / "screenshots.mjs"


def find_chromium() -> str | None:
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript",
                      ".json": "application/json", ".arrow": "application/vnd.apache.arrow.stream",
                      ".parquet": "application/octet-stream"}

    def log_message(self, *args):  # quiet
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """A static file server for `directory` on 127.0.0.1 (a free port); yields its base URL."""
    handler = functools.partial(_Handler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def look_at(base_url: str, pages: dict[str, str | dict], out_dir: Path, chromium: str, timeout: float = 600,
            widths: tuple[int, ...] = (1280,)) -> dict:
    """Open each page (name -> path, or {"path": ..., "actions": [{"select": css, "value": v}]}) in
    headless Chromium at each width; save <out_dir>/<name>.png (first width) and <name>-<width>.png
    (the others) and return what the browser saw: per page (keyed <name>, and <name>@<width> for the
    other widths) its headings, text, charts (with their series data), chart titles, tables, the
    navigation, every arrow or coloured change, Evidence error boxes and console errors, plus every
    request that left localhost."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    job = out_dir / "job.json"
    entries = [{"name": n, **(p if isinstance(p, dict) else {"path": p})} for n, p in pages.items()]
    job.write_text(json.dumps({"chromium": chromium, "baseUrl": base_url, "outDir": str(out_dir),
                               "widths": list(widths), "pages": entries}), encoding="utf-8")
    out = subprocess.run(["node", str(SCRIPT), str(job)], cwd=REPORTS_DIR, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"screenshots.mjs failed ({out.returncode}):\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["pages"] = {p["name"]: p for p in result["pages"]}
    return result
