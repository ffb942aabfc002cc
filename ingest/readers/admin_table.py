"""Parse and validate LM's social-environment data table (LABIS/SPOLIS extract, ``.xlsx``).

Every sheet that has the header anchor (``Nr.p.k.``) is read: its title block (municipality,
ATVK code, year), its header (one row, or two rows with merged group cells as in older LM
tables: the lowest non-empty header text names a column) mapped to column keys by the layout
file (``ingest/config/admin_table_layout.yml``), and its indicator rows, every cell kept as
delivered text (``X``, blanks and ``1 297`` stay as they are for staging to interpret).

The workbook is then validated as a whole, and any violation rejects it with an IngestError
naming file, sheet, row and column: unknown indicator rows, cells that are neither a number,
X/x nor empty, negative numbers, a total that differs from women + men or from the sum of the
age bands (where all are given), title blocks that disagree between sheets, a future year.
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
from ingest.settings import CONFIG_DIR, latest_allowed_year, read_seed

LAYOUT_FILE = CONFIG_DIR / "admin_table_layout.yml"
ROW_NO = re.compile(r"^\d+(\.\d+)*\.?$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")  # after spaces are removed and a decimal comma became a point
VALUE_COLUMNS = ["total", "women", "men", "age_0_17", "age_18_24", "age_25_54", "age_55_64",
                 "age_65_79", "age_80_89", "age_90_plus", "expenditure_eur"]
AGE_COLUMNS = [c for c in VALUE_COLUMNS if c.startswith("age_")]


def load_layout(path: Path = LAYOUT_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def known_row_numbers() -> set[str]:
    return {r["row_no"] for r in read_seed("admin_indicators")}


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


def parse_number(text: str | None) -> float | None:
    """A number as LM tables deliver it ("1 297", "2,5"); None for X, blanks and text.
    Same rule as the dbt macro parse_delivered_number."""
    if text is None or (isinstance(text, float) and text != text):
        return None
    cleaned = str(text).strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    return float(cleaned) if NUMBER.match(cleaned) else None


def is_not_available(text: str | None) -> bool:
    return text is not None and str(text).strip().upper() == "X"


@dataclass
class AdminExtract:
    path: Path
    sheets: list[str]
    municipality_code: str
    municipality_name: str
    year: int
    rows: pd.DataFrame  # sheet, excel_row + one text column per layout key


def _title(path: Path, sheet: str, grid: list, header_idx: int, layout: dict) -> dict:
    title = {}
    for key, label in layout["title_block"].items():
        found = None
        for i, r in enumerate(grid[:header_idx]):
            if r and r[0] is not None and _norm(r[0]).rstrip(":") == _norm(label):
                found = (i, cell_text(r[1]) if len(r) > 1 else None)
        if found is None or found[1] is None:
            raise IngestError(path, f"title block lacks {label!r}", sheet=sheet)
        title[key] = found
    try:
        year = int(title["year"][1])
    except ValueError:
        raise IngestError(path, "year in the title block is not a number", sheet=sheet,
                          row=title["year"][0] + 1, column="B", value=title["year"][1]) from None
    return {"municipality_code": title["municipality_code"][1], "municipality_name": title["municipality_name"][1],
            "year": year}


def _read_sheet(path: Path, ws, layout: dict) -> tuple[dict, list[dict]] | None:
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    anchor = _norm(layout["header_anchor"])
    header_idx = next((i for i, r in enumerate(grid) if r and r[0] is not None and _norm(r[0]) == anchor), None)
    if header_idx is None:
        return None
    # Header rows: the anchor row and the rows below it whose first cell is empty (merged).
    last_header = header_idx
    while (last_header + 1 < len(grid) and grid[last_header + 1]
           and grid[last_header + 1][0] is None and any(v is not None for v in grid[last_header + 1])):
        last_header += 1
    width = max(len(grid[i]) for i in range(header_idx, last_header + 1))
    colmap: dict[int, str] = {}
    for j in range(width):
        texts = [grid[i][j] for i in range(header_idx, last_header + 1) if j < len(grid[i]) and grid[i][j] is not None]
        if not texts:
            continue
        value = texts[-1]
        key = next((c["key"] for c in layout["columns"] if _norm(value).startswith(_norm(c["header"]))), None)
        if key is None:
            raise IngestError(path, "header cell not in the layout", sheet=ws.title, row=header_idx + 1,
                              column=get_column_letter(j + 1), value=value)
        colmap[j] = key
    absent = [c["key"] for c in layout["columns"] if c["key"] not in colmap.values()]
    if absent:
        raise IngestError(path, "header lacks columns of the layout", sheet=ws.title, row=header_idx + 1,
                          value=absent)
    row_no_col = get_column_letter(next(j for j, k in colmap.items() if k == "row_no") + 1)
    records = []
    for i in range(last_header + 1, len(grid)):
        r = grid[i]
        if not r or all(v is None for v in r):
            continue
        rec = {"sheet": ws.title, "excel_row": i + 1}
        for j, key in colmap.items():
            rec[key] = cell_text(r[j]) if j < len(r) else None
        extra = [j for j in range(len(r)) if j not in colmap and r[j] is not None]
        if extra:
            raise IngestError(path, "value outside the header's columns", sheet=ws.title, row=i + 1,
                              column=get_column_letter(extra[0] + 1), value=r[extra[0]])
        if rec["row_no"] is None or not ROW_NO.match(rec["row_no"]):
            raise IngestError(path, "row has no indicator number (like 7 or 7.1)", sheet=ws.title, row=i + 1,
                              column=row_no_col, value=rec["row_no"])
        rec["row_no"] = rec["row_no"].rstrip(".")
        rec["_columns"] = {k: get_column_letter(j + 1) for j, k in colmap.items()}
        records.append(rec)
    return _title(path, ws.title, grid, header_idx, layout), records


def read_admin_table(path: str | Path, layout: dict | None = None) -> AdminExtract:
    path = Path(path)
    layout = layout or load_layout()
    if not path.exists():
        raise IngestError(path, "file not found")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise IngestError(path, f"cannot be read as an .xlsx workbook: {exc}") from None
    try:
        parsed = [(ws.title, _read_sheet(path, ws, layout)) for ws in wb.worksheets]
    finally:
        wb.close()
    parsed = [(name, p) for name, p in parsed if p is not None]
    if not parsed:
        raise IngestError(path, f"no sheet has a header row starting with {layout['header_anchor']!r}")
    title = parsed[0][1][0]
    for name, (other, _) in parsed[1:]:
        if other != title:
            raise IngestError(path, f"title block differs from sheet {parsed[0][0]!r}", sheet=name,
                              value={k: other[k] for k in other if other[k] != title[k]})
    records = [rec for _, (_, recs) in parsed for rec in recs]
    if not records:
        raise IngestError(path, "no indicator rows below the header", sheet=parsed[0][0])
    validate_rows(path, records, title["year"])
    for rec in records:
        rec.pop("_columns")
    rows = pd.DataFrame.from_records(records, columns=["sheet", "excel_row", *[c["key"] for c in layout["columns"]]])
    return AdminExtract(path, [n for n, _ in parsed], title["municipality_code"], title["municipality_name"],
                        title["year"], rows)


def validate_rows(path: Path, records: list[dict], year: int) -> None:
    """The content rules of an extract; the first violation raises with its place."""
    if year > latest_allowed_year():
        raise IngestError(path, f"the extract's year is after {latest_allowed_year()} (the future)",
                          sheet=records[0]["sheet"], value=year)
    known = known_row_numbers()
    seen: dict[str, dict] = {}
    for rec in records:
        where = {"sheet": rec["sheet"], "row": rec["excel_row"]}
        cols = rec["_columns"]
        if rec["row_no"] not in known:
            raise IngestError(path, "unknown indicator row (not in seed admin_indicators)", column=cols["row_no"],
                              value=rec["row_no"], **where)
        if rec["row_no"] in seen:
            raise IngestError(path, f"indicator row appears twice (also sheet {seen[rec['row_no']]['sheet']!r} "
                              f"row {seen[rec['row_no']]['excel_row']})", column=cols["row_no"], value=rec["row_no"],
                              **where)
        seen[rec["row_no"]] = rec
        numbers = {}
        for col in VALUE_COLUMNS:
            text = rec[col]
            number = parse_number(text)
            if text is not None and number is None and not is_not_available(text):
                raise IngestError(path, "not a number, X or empty", column=cols[col], value=text, **where)
            if number is not None and number < 0:
                raise IngestError(path, "negative value", column=cols[col], value=text, **where)
            numbers[col] = number
        total = numbers["total"]
        if total is not None and numbers["women"] is not None and numbers["men"] is not None \
                and abs(total - numbers["women"] - numbers["men"]) > 1e-9:
            raise IngestError(path, f"total {total:g} is not women + men ({numbers['women']:g} + {numbers['men']:g})",
                              column=cols["total"], value=rec["total"], **where)
        bands_given = all(numbers[c] is not None or is_not_available(rec[c]) for c in AGE_COLUMNS)
        if total is not None and bands_given and any(numbers[c] is not None for c in AGE_COLUMNS):
            age_sum = sum(numbers[c] or 0 for c in AGE_COLUMNS)
            if abs(total - age_sum) > 1e-9:
                raise IngestError(path, f"total {total:g} is not the sum of the age bands ({age_sum:g})",
                                  column=cols["total"], value=rec["total"], **where)
