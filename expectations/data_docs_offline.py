"""Make Great Expectations' Data Docs readable with no internet.

GX renders its Data Docs pages with Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega
loaded from public CDNs, and its logo from a web-asset bucket (with a tracking query string):
offline the pages come up as unstyled text with broken tables. ``make_offline(site_dir)`` copies
those libraries, at the versions GX asks for, from the npm packages installed with the report site
(reports/package.json, devDependencies) into ``<site>/static/vendor/``, points every page at the
local copies (relative paths, so the site also works opened as files), and replaces the remote
logos with the ones the great_expectations package ships in ``static/images/``. Call it once per
run after the docs are rendered; it is idempotent and cheap (it rewrites only pages that still
reference a CDN).
"""
from __future__ import annotations

import os
import re
import warnings
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ingest.settings import REPORTS_DIR

NODE_MODULES = REPORTS_DIR / "node_modules"

# CDN address GX writes -> (file in reports/node_modules, where it goes under static/vendor/)
VENDORED: dict[str, tuple[str, str]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        ("bootstrap/dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        ("bootstrap/dist/js/bootstrap.min.js", "bootstrap/bootstrap.min.js"),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery/dist/jquery.min.js", "jquery/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        ("popper.js/dist/umd/popper.min.js", "popper/popper.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        ("bootstrap-table/dist/bootstrap-table.min.css", "bootstrap-table/bootstrap-table.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        ("bootstrap-table/dist/bootstrap-table.min.js", "bootstrap-table/bootstrap-table.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        ("bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
         "bootstrap-table/bootstrap-table-filter-control.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        ("bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
         "bootstrap-table/bootstrap-table-filter-control.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        ("bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css",
         "bootstrap-table/bootstrap-table-filter-control.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        ("@fortawesome/fontawesome-free/css/all.min.css", "fontawesome/css/all.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        ("bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css", "bootstrap-datepicker/bootstrap-datepicker.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        ("bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js", "bootstrap-datepicker/bootstrap-datepicker.min.js"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        ("@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css", "bootstrap-dark/bootstrap-prefers-dark.css"),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega/build/vega.min.js", "vega/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite/build/vega-lite.min.js", "vega/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed/build/vega-embed.min.js", "vega/vega-embed.min.js"),
}
# Folders copied whole (files the vendored CSS refers to relatively).
VENDORED_DIRS = {"@fortawesome/fontawesome-free/webfonts": "fontawesome/webfonts"}
# Remote logos -> the images the great_expectations package copies into static/images/.
REMOTE_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3[\w.-]*\.amazonaws\.com/"
                           r"(?:logo-long\.png|full_logo_dark\.png)[^\"')\s]*")
LOCAL_LOGO = "images/logo-long.png"
# What a page *loads* from elsewhere (links a reader may click are fine offline).
LOADED_REMOTE = re.compile(r"""(?:<script[^>]*\bsrc|<link[^>]*\bhref|<img[^>]*\bsrc)=["'](https?://[^"']+)|"""
                           r"""url\(['"]?(https?://[^'")]+)""", re.I)


@dataclass
class OfflineDocs:
    site_dir: Path
    pages_rewritten: int = 0
    pages: int = 0
    still_remote: dict[str, list[str]] = field(default_factory=dict)  # page -> addresses it still loads
    error: str | None = None  # the assets are not installed: pages left as GX wrote them


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def vendor_assets(static_dir: Path, node_modules: Path = NODE_MODULES) -> None:
    """Copy the libraries into <static_dir>/vendor/; FileNotFoundError names what is not installed."""
    missing = [src for src, _ in VENDORED.values() if not (node_modules / src).is_file()]
    missing += [src for src in VENDORED_DIRS if not (node_modules / src).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"Data Docs assets not installed in {node_modules}: {', '.join(missing)} (run `make setup`)")
    for src, dst in VENDORED.values():
        _copy_if_changed(node_modules / src, static_dir / "vendor" / dst)
    for src, dst in VENDORED_DIRS.items():
        for f in (node_modules / src).iterdir():
            _copy_if_changed(f, static_dir / "vendor" / dst / f.name)


def make_offline(site_dir: Path, node_modules: Path = NODE_MODULES) -> OfflineDocs:
    """Point every page of the Data Docs site at local copies of its CSS/JS and images."""
    site_dir = Path(site_dir)
    static_dir = site_dir / "static"
    result = OfflineDocs(site_dir)
    try:
        vendor_assets(static_dir, node_modules)
    except FileNotFoundError as exc:  # never fail a validation over its docs' styling
        result.error = str(exc)
        warnings.warn(f"Data Docs stay online-only: {exc}", stacklevel=2)
        return result
    for page in sorted(site_dir.rglob("*.html")):
        result.pages += 1
        text = page.read_text(encoding="utf-8")
        to_static = Path(os.path.relpath(static_dir, page.parent)).as_posix()
        new = text
        for url, (_, dst) in VENDORED.items():
            new = new.replace(f'"{url}"', f'"{to_static}/vendor/{dst}"')
        new = REMOTE_IMAGES.sub(f"{to_static}/{LOCAL_LOGO}", new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            result.pages_rewritten += 1
        remote = sorted({a or b for a, b in LOADED_REMOTE.findall(new)})
        if remote:
            result.still_remote[str(page.relative_to(site_dir))] = remote
    return result
