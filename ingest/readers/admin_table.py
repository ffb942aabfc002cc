"""Parse LM's social-environment data table (LABIS/SPOLIS extract, ``.xlsx``).

Finds the header row by its anchor cell, maps header cells to column keys by
the layout file (``ingest/config/admin_table_layout.yml``), reads the title
block above it (municipality, ATVK code, year) and returns the indicator rows
with every cell as delivered text: ``X``, blanks and spaces stay as they are
for staging to interpret. Problems raise IngestError with file, sheet, row
and column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from ingest.errors import IngestError
from ingest.settings import CONFIG_DIR

LAYOUT_FILE = CONFIG_DIR / "admin_table_layout.yml"
ROW_NO = re.compile(r"^\d+(\.\d+)*\.?$")


def load_layout(path: Path = LAYOUT_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _norm(text) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def cell_text(value) -> str | None:
    """A cell as delivered text: numbers without a spurious '.0', blanks as None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


@dataclass
class AdminExtract:
    path: Path
    sheet: str
    municipality_code: str
    municipality_name: str
    year: int
    rows: pd.DataFrame  # excel_row + one text column per layout key


def read_admin_table(path: str | Path, layout: dict | None = None) -> AdminExtract:
    path = Path(path)
    layout = layout or load_layout()
    if not path.exists():
        raise IngestError(path, "file not found")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise IngestError(path, f"cannot be read as an .xlsx workbook: {exc}") from None
    ws = wb.worksheets[0]
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    wb.close()

    anchor = _norm(layout["header_anchor"])
    header_idx = next((i for i, r in enumerate(grid) if r and r[0] is not None and _norm(r[0]) == anchor), None)
    if header_idx is None:
        raise IngestError(path, f"no header row starting with {layout['header_anchor']!r}", sheet=ws.title)

    colmap: dict[int, str] = {}
    for j, value in enumerate(grid[header_idx]):
        if value is None:
            continue
        key = next((c["key"] for c in layout["columns"] if _norm(value).startswith(_norm(c["header"]))), None)
        if key is None:
            raise IngestError(path, "header cell not in the layout", sheet=ws.title, row=header_idx + 1,
                              column=get_column_letter(j + 1), value=value)
        colmap[j] = key
    expected = [c["key"] for c in layout["columns"]]
    absent = [k for k in expected if k not in colmap.values()]
    if absent:
        raise IngestError(path, "header lacks columns of the layout", sheet=ws.title, row=header_idx + 1,
                          value=absent)

    title = {}
    for key, label in layout["title_block"].items():
        found = None
        for i, r in enumerate(grid[:header_idx]):
            if r and r[0] is not None and _norm(r[0]).rstrip(":") == _norm(label):
                found = (i, cell_text(r[1]) if len(r) > 1 else None)
        if found is None or found[1] is None:
            raise IngestError(path, f"title block lacks {label!r}", sheet=ws.title)
        title[key] = found
    try:
        year = int(title["year"][1])
    except ValueError:
        raise IngestError(path, "year in the title block is not a number", sheet=ws.title,
                          row=title["year"][0] + 1, column="B", value=title["year"][1]) from None

    records = []
    for i in range(header_idx + 1, len(grid)):
        r = grid[i]
        if not r or all(v is None for v in r):
            continue
        rec = {"excel_row": i + 1}
        for j, key in colmap.items():
            rec[key] = cell_text(r[j]) if j < len(r) else None
        extra = [j for j in range(len(r)) if j not in colmap and r[j] is not None]
        if extra:
            raise IngestError(path, "value outside the header's columns", sheet=ws.title, row=i + 1,
                              column=get_column_letter(extra[0] + 1), value=r[extra[0]])
        if rec["row_no"] is None or not ROW_NO.match(rec["row_no"]):
            raise IngestError(path, "row has no indicator number (like 7 or 7.1)", sheet=ws.title, row=i + 1,
                              column=get_column_letter(next(j for j, k in colmap.items() if k == "row_no") + 1),
                              value=rec["row_no"])
        rec["row_no"] = rec["row_no"].rstrip(".")
        records.append(rec)
    if not records:
        raise IngestError(path, "no indicator rows below the header", sheet=ws.title, row=header_idx + 1)
    rows = pd.DataFrame.from_records(records, columns=["excel_row", *expected])
    return AdminExtract(path, ws.title, title["municipality_code"][1], title["municipality_name"][1], year, rows)


def parse_number(text: str | None) -> float | None:
    """A number as LM tables deliver it ("1 297", "2,5"); None for X, blanks and text.
    Same rule as the dbt macro parse_delivered_number."""
    if text is None:
        return None
    cleaned = str(text).strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def is_not_available(text: str | None) -> bool:
    return text is not None and str(text).strip().upper() == "X"
