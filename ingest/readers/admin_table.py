"""Parse and validate LM's social-environment data table (LABIS/SPOLIS extract, ``.xlsx``).

A workbook is read for its meaning, not its positions, as municipalities fill it in:

- every sheet that has the header anchor (``Nr.p.k.``, in any column) is read, whatever the
  sheet is called (``Datu tabula``, ``Dienas aprūpes centri`` ...);
- the title above the header says which municipality and year: label and value in one cell
  (``Pašvaldība: Ķekavas novads (0034000)``, ``Gads: 2030``) or in neighbouring cells, in any
  column; the code may be in its own cell (``ATVK kods``) or in brackets after the name, or found
  from the name alone; the year may be written in a heading (``... par 2030. gadu``). Sheets
  without a title take the others'; sheets with one must agree. The file name is only a
  cross-check: a municipality code in it that differs from the content is refused;
- the header is one row, or two rows with merged group cells as in older LM tables; header
  texts map to column keys by the layout file (``ingest/config/admin_table_layout.yml``);
- a row with a single text cell and no figures (a section heading merged across the sheet, a
  note below the table) is skipped; every other row needs an indicator number (``7``, ``7.1.``);
- cells are kept as delivered text (``X``/``x``, blanks, ``1 297``, ``61 230,50``) for staging.

Then the workbook is validated, and any violation rejects it with an IngestError naming file and
cell (``'Dienas aprūpes centri'!D12``): a formula without a saved value, merged cells among the
figures, unknown or repeated indicator rows, cells that are neither a number, X/x nor empty,
negative numbers, fractional persons, a total that differs from women + men or from the sum of
the age bands (where all are given), title blocks that disagree, a year after today's.

Cells are read with python-calamine (Rust); formulas and merged cells, which a cell reader does
not report, come from the workbook's XML (``xlsx_inspect.py``).
"""
from __future__ import annotations

import functools
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from ingest.errors import IngestError, cell_name
from ingest.errors import OverLimit
from ingest.limits import check_workbook, check_xls_sheet, is_xls, limit
from ingest.municipalities import boundary_set_of_report_year, closest_name, code_for_name, normalise_code
from ingest.numbers import NumberFormat, admin_column_unit
from ingest.numbers import parse_number as _parse
from ingest.readers.xlsx_inspect import Merge, SheetFacts, column_letter, inspect_xlsx
from ingest.settings import CONFIG_DIR, first_allowed_year, latest_allowed_year, read_seed, today

LAYOUT_FILE = CONFIG_DIR / "admin_table_layout.yml"
ROW_NO = re.compile(r"^\d+(\.\d+)*\.?$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")  # after spaces are removed and a decimal comma became a point
VALUE_COLUMNS = ["total", "women", "men", "age_0_17", "age_18_24", "age_25_54", "age_55_64",
                 "age_65_79", "age_80_89", "age_90_plus", "expenditure_eur"]
VALUE_NUMBER_COLUMNS = [f"{c}_value" for c in VALUE_COLUMNS]  # each value column's number (None: X, blank)
AGE_COLUMNS = [c for c in VALUE_COLUMNS if c.startswith("age_")]
COUNT_COLUMNS = [c for c in VALUE_COLUMNS if c != "expenditure_eur"]
ODD_SPACES = dict.fromkeys(map(ord, "\u2007\u2009\u202f\t"), " ")  # figure/thin/narrow spaces -> space
CODE_IN_TEXT = re.compile(r"(?<![\dA-Za-z])(?:LV)?(\d{7})(?!\d)")
YEAR_IN_TEXT = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
YEAR_IN_HEADING = re.compile(r"(?<!\d)((?:19|20)\d{2})\.?\s*(?:gad|g\.)", re.IGNORECASE)


def load_layout(path: Path = LAYOUT_FILE) -> dict:
    """The layout (read once per file version: every workbook of a run needs it)."""
    path = Path(path)
    return _layout(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _layout(path: str, _mtime_ns: int) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _indicator_rows() -> tuple[dict, ...]:
    return tuple(read_seed("admin_indicators"))


def known_row_numbers() -> set[str]:
    return {r["row_no"] for r in _indicator_rows()}


def _row_units() -> dict[str, str]:
    return {r["row_no"]: r["unit"] for r in _indicator_rows()}


@functools.lru_cache(maxsize=8)
def _header_keys(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """(normalised header text, key) of the layout's columns, normalised once."""
    return tuple((_norm(h), k) for h, k in headers)


def _norm(text) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def cell_text(value) -> str | None:
    """A cell as delivered text: numbers without a spurious '.0', blanks as None, odd spaces
    (thin, narrow no-break, figure) as plain spaces."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).translate(ODD_SPACES).strip()
    return text or None


LM_NUMBERS = NumberFormat(decimal=",", exponent_and_inf=False)  # LM tables: decimal comma ("2.5" reads too)


def parse_number(text: str | None) -> float | None:
    """A number as LM tables deliver it ("1 297", "2,5"); None for X, blanks and text (ingest/numbers.py;
    the loader stores each cell's number next to its text, raw.admin_table_rows.<column>_value, and
    dbt reads that: the rule has one owner)."""
    if text is None or (isinstance(text, float) and text != text):
        return None
    return _parse(str(text), LM_NUMBERS)[0]


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
    title_sheet: str | None = None  # where the municipality code was read
    title_row: int | None = None
    title_column: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Found:
    value: object
    sheet: str
    row: int  # 1-based
    col: int  # 1-based
    text: str

    @property
    def cell(self) -> str:
        return cell_name(self.sheet, self.row, column_letter(self.col))


def _label_patterns(layout: dict) -> dict[str, list[str]]:
    out = {}
    for key, labels in layout["title_block"].items():
        labels = [labels] if isinstance(labels, str) else list(labels)
        out[key] = sorted(labels, key=len, reverse=True)
    return out


def _after_label(text: str, label: str) -> str | None:
    """The rest of `text` after `label` (and a ':' or '-'), or None if `text` does not start with it."""
    t, lab = " ".join(str(text).split()), " ".join(str(label).split())
    if not t.casefold().startswith(lab.casefold()):
        return None
    rest = t[len(lab):]
    if rest and rest[0].isalnum():
        return None  # "Pašvaldības izdevumi" is not "Pašvaldība"
    return rest.strip().lstrip(":-–—").strip()


def _is_label(value, labels: dict[str, list[str]]) -> bool:
    """Whether a cell is itself a title label (then it is not the value of the label before it)."""
    return isinstance(value, str) and any(_after_label(value, lab) is not None
                                          for options in labels.values() for lab in options)


def _title(path: Path, sheet: str, grid: list[list], header_idx: int, layout: dict) -> dict[str, _Found]:
    """Municipality name/code and year from the cells above the header, wherever they are."""
    found: dict[str, _Found] = {}
    labels = _label_patterns(layout)
    headings = []
    for i in range(header_idx):
        row = grid[i]
        for j, v in enumerate(row):
            if v is None or isinstance(v, (int, float)):
                continue
            text = str(v).strip()
            if not text:
                continue
            headings.append((i, j, text))
            for key, options in labels.items():
                if key in found:
                    continue
                for label in options:
                    rest = _after_label(text, label)
                    if rest is None:
                        continue
                    if rest:
                        found[key] = _Found(rest, sheet, i + 1, j + 1, text)
                    else:  # label and value in neighbouring cells: the next filled cell to the right, or below
                        right = next(((k, w) for k, w in enumerate(row[j + 1:], j + 1) if cell_text(w)), None)
                        below = grid[i + 1][j] if i + 1 < header_idx and j < len(grid[i + 1]) else None
                        if right is not None and not _is_label(right[1], labels):
                            found[key] = _Found(right[1], sheet, i + 1, right[0] + 1, text)
                        elif cell_text(below) and not _is_label(below, labels):
                            found[key] = _Found(below, sheet, i + 2, j + 1, text)
                        else:
                            raise IngestError(path, f"{label!r} has no value beside it", sheet=sheet, row=i + 1,
                                              column=column_letter(j + 1), value=text)
                    break
    if "year" not in found:  # "Sociālās vides izpētes datu tabula par 2030. gadu"
        for i, j, text in headings:
            m = YEAR_IN_HEADING.search(text)
            if m:
                found["year"] = _Found(m.group(1), sheet, i + 1, j + 1, text)
                break
    return found


def _resolve_title(path: Path, titles: list[tuple[str, dict[str, _Found]]]) -> dict:
    """One municipality and year from the sheets' titles (which must agree)."""
    def first(key):
        return next(((name, t[key]) for name, t in titles if key in t), (None, None))

    # the year
    _, y = first("year")
    if y is None:
        raise IngestError(path, "no sheet says which year the table is for (a cell such as 'Gads: 2030' above "
                          "the header)", sheet=titles[0][0])
    year_value = y.value
    if isinstance(year_value, float) and year_value.is_integer():
        year_value = int(year_value)
    m = YEAR_IN_TEXT.search(str(year_value))
    if not m:
        raise IngestError(path, "year in the title block is not a year", sheet=y.sheet, row=y.row,
                          column=column_letter(y.col), value=y.value)
    year = int(m.group(1))

    def code_of(f: _Found) -> tuple[str | None, str]:
        """(code, name) from a title value: a code cell, or a name with its code in brackets."""
        v = f.value
        if isinstance(v, (int, float)):
            return normalise_code(v), ""
        text = str(v).strip()
        c = CODE_IN_TEXT.search(text)
        name = CODE_IN_TEXT.sub("", text).replace("()", "").replace("ATVK", "").strip(" ,;:-–()")
        return (c.group(1) if c else None), name

    per_sheet = []
    for sheet, t in titles:
        code, name, where = None, "", None
        if "municipality_name" in t:
            code, name = code_of(t["municipality_name"])
            where = t["municipality_name"] if code else None
        if "municipality_code" in t:
            c2, _ = code_of(t["municipality_code"])
            if c2 is None:
                f = t["municipality_code"]
                raise IngestError(path, "the municipality's ATVK code is not a 7-digit code", sheet=f.sheet,
                                  row=f.row, column=column_letter(f.col), value=f.value)
            if code is not None and c2 != code:
                f = t["municipality_code"]
                raise IngestError(path, f"the title names two municipality codes: {code} in "
                                  f"{t['municipality_name'].cell} and {c2} here", sheet=f.sheet, row=f.row,
                                  column=column_letter(f.col), value=f.value)
            code, where = c2, t["municipality_code"]
        if "year" in t:
            my = YEAR_IN_TEXT.search(str(int(t["year"].value) if isinstance(t["year"].value, float)
                                         else t["year"].value))
            sheet_year = int(my.group(1)) if my else None
        else:
            sheet_year = None
        per_sheet.append((sheet, code, name, sheet_year, where, t))

    base = next((p for p in per_sheet if p[1] is not None), None)
    if base is None:
        # a name without a code: look it up among the units of the year (reference seeds)
        named = next((p for p in per_sheet if p[2]), None)
        if named is None:
            raise IngestError(path, "no sheet names the municipality (a cell such as 'Pašvaldība: Ķekavas novads "
                              "(0034000)' or 'ATVK kods' above the header)", sheet=titles[0][0])
        f = named[5]["municipality_name"]
        boundary = boundary_set_of_report_year(year)
        code = code_for_name(boundary, named[2])
        if code is None:
            near = closest_name(boundary, named[2])
            hint = (f" (the closest unit name is {near[0]!r}; they differ {near[1]})" if near else "")
            raise IngestError(path, f"the municipality {named[2]!r} is not a unit of {year} by that name{hint}; add "
                              "its ATVK code, e.g. 'Pašvaldība: Ķekavas novads (0034000)'", sheet=f.sheet, row=f.row,
                              column=column_letter(f.col), value=f.value)
        per_sheet = [(s, code if c is None else c, n, y_, f if w is None else w, t) for s, c, n, y_, w, t in per_sheet]
        base = per_sheet[0]
    _, code, name, _, where, _ = base
    name = name or next((p[2] for p in per_sheet if p[2]), "")
    for sheet, c, _, sy, w, _ in per_sheet:
        differs = {}
        if c is not None and c != code:
            differs["municipality_code"] = c
        if sy is not None and sy != year:
            differs["year"] = sy
        if differs:
            raise IngestError(path, f"title block differs from sheet {base[0]!r}", sheet=sheet, value=differs)
    return {"municipality_code": code, "municipality_name": name, "year": year,
            "title_sheet": where.sheet if where else None, "title_row": where.row if where else None,
            "title_column": column_letter(where.col) if where else None}


def _anchor(grid: list[list], layout: dict) -> tuple[int, int] | None:
    anchor = _norm(layout["header_anchor"]).replace(" ", "").rstrip(".")
    for i, r in enumerate(grid):
        for j, v in enumerate(r):
            if isinstance(v, str) and _norm(v).replace(" ", "").rstrip(".") == anchor:
                return i, j
    return None


def _read_sheet(path: Path, name: str, grid: list[list], facts, layout: dict):
    """(title found on the sheet, indicator records, notes) or None if the sheet has no header."""
    found = _anchor(grid, layout)
    if found is None:
        return None
    header_idx, a = found
    merges = facts.merges if facts else []
    # Header rows: the anchor's vertical merge (older two-row headers), else the anchor row and the
    # rows below it whose anchor cell is empty.
    last_header = header_idx
    span = next((m for m in merges if m.covers(header_idx + 1, a + 1) and m.last_row > m.first_row), None)
    if span is not None:
        last_header = span.last_row - 1
    else:
        while (last_header + 1 < len(grid) and grid[last_header + 1]
               and grid[last_header + 1][a] is None and any(v is not None for v in grid[last_header + 1])
               and all(v is None or isinstance(v, str) for v in grid[last_header + 1])
               and not any(ROW_NO.match(str(v).strip()) for v in grid[last_header + 1] if v is not None)):
            last_header += 1
    width = max(len(grid[i]) for i in range(header_idx, last_header + 1))
    header_keys = _header_keys(tuple((c["header"], c["key"]) for c in layout["columns"]))
    colmap: dict[int, str] = {}
    for j in range(width):
        texts = [grid[i][j] for i in range(header_idx, last_header + 1) if j < len(grid[i]) and grid[i][j] is not None]
        if not texts:
            continue
        value = _norm(texts[-1])
        key = next((k for h, k in header_keys if value.startswith(h)), None)
        if key is None:
            raise IngestError(path, "header cell not in the layout", sheet=name, row=header_idx + 1,
                              column=column_letter(j + 1), value=texts[-1])
        colmap[j] = key
    absent = [c["key"] for c in layout["columns"] if c["key"] not in colmap.values()]
    if absent:
        raise IngestError(path, "header lacks columns of the layout", sheet=name, row=header_idx + 1,
                          value=absent)
    by_key = {k: j for j, k in colmap.items()}
    row_no_j = by_key["row_no"]
    figure_cols = {by_key[k] + 1 for k in VALUE_COLUMNS} | {row_no_j + 1}  # 1-based
    if facts and facts.formulas_without_value:
        col, row, formula = facts.formulas_without_value[0]
        raise IngestError(path, f"formula ={formula} has no saved value (the workbook was written by a program "
                          "that does not calculate formulas): open and save it in Excel or LibreOffice, or type "
                          "the value", sheet=name, row=row, column=col)
    records, notes, sections = [], [], set()
    for i in range(last_header + 1, len(grid)):
        r = grid[i]
        filled = [j for j, v in enumerate(r) if v is not None]
        if not filled:
            continue
        row_no = cell_text(r[row_no_j]) if row_no_j < len(r) else None
        if row_no is None or not ROW_NO.match(row_no):
            only = r[filled[0]]
            if len(filled) == 1 and filled[0] + 1 not in figure_cols - {row_no_j + 1} and isinstance(only, str) \
                    and parse_number(only) is None:
                sections.add(i + 1)  # a section heading or a note: no figures
                notes.append(f"row {i + 1} of sheet {name!r} skipped: text only ({only.strip()[:60]!r})")
                continue
            raise IngestError(path, "row has no indicator number (like 7 or 7.1)", sheet=name, row=i + 1,
                              column=column_letter(row_no_j + 1), value=row_no)
        rec = {"sheet": name, "excel_row": i + 1}
        for j, key in colmap.items():
            rec[key] = cell_text(r[j]) if j < len(r) else None
        extra = [j for j in filled if j not in colmap]
        if extra:
            raise IngestError(path, "value outside the header's columns", sheet=name, row=i + 1,
                              column=column_letter(extra[0] + 1), value=r[extra[0]])
        rec["row_no"] = rec["row_no"].rstrip(".")
        rec["_columns"] = {k: column_letter(j + 1) for j, k in colmap.items()}
        records.append(rec)
    for m in merges:
        if m.last_row <= last_header + 1:
            continue  # title block and header
        if m.first_row == m.last_row and m.first_row in sections:
            continue  # a section heading merged across the sheet
        hit = [c for c in range(m.first_col, m.last_col + 1) if c in figure_cols]
        if hit:
            raise IngestError(path, f"merged cells {m.ref} among the figures: a merged cell shows one value over "
                              "several cells and the others read as 'not reported'; unmerge them and fill every "
                              "cell", sheet=name, row=m.first_row, column=column_letter(m.first_col))
    return _title(path, name, grid, header_idx, layout), records, notes


def _grid(sheet) -> list[list]:
    """A sheet's cells from A1, empty cells as None, text in Unicode NFC (a name or label typed in NFD,
    a letter and a combining mark, reads as the same name: 'Pašvaldība' is 'Pašvaldība')."""
    def cell(v):
        if v == "" or v is None:
            return None
        return unicodedata.normalize("NFC", v) if isinstance(v, str) else v
    return [[cell(v) for v in row] for row in sheet.to_python(skip_empty_area=False)]


def _check_file_name(path: Path, title: dict, extract_notes: list[str]) -> None:
    """The file name is only a cross-check: a municipality code in it that is not the title's is an
    error; a year in it that is not the title's is noted (file names also carry sending dates)."""
    stem = path.stem
    codes = set(CODE_IN_TEXT.findall(stem))
    if codes and title["municipality_code"] not in codes:
        raise IngestError(path, f"the file name says municipality {', '.join(sorted(codes))} but the workbook's title "
                          f"says {title['municipality_code']}: which is right? Correct the title or the file name",
                          sheet=title["title_sheet"], row=title["title_row"], column=title["title_column"],
                          value=title["municipality_code"])
    years = {int(y) for y in YEAR_IN_TEXT.findall(stem)}
    if years and title["year"] not in years:
        extract_notes.append(f"the file name mentions {', '.join(map(str, sorted(years)))}; the workbook says "
                             f"{title['year']}, which is used")


def read_admin_table(path: str | Path, layout: dict | None = None,
                     clock: tuple[Path | None, str | None] = (None, None)) -> AdminExtract:
    """Read and check one LM workbook (`clock`: the file as delivered and the checksum of what is read,
    for the date its year is checked against)."""
    from python_calamine import CalamineWorkbook

    path = Path(path)
    layout = layout or load_layout()
    if not path.exists():
        raise IngestError(path, "file not found")
    bounds = {"rows": (limit("admin_workbook", "max_rows"), "admin_workbook.max_rows"),
              "columns": (limit("admin_workbook", "max_columns"), "admin_workbook.max_columns")}
    xls = is_xls(path)  # Excel 97-2003 (LABIS exports): read by calamine too, its merges from calamine
    if not xls:
        check_workbook(path, **bounds)
    kind = ".xls (Excel 97-2003)" if xls else ".xlsx"
    try:
        facts = {} if xls else inspect_xlsx(path)
        wb = CalamineWorkbook.from_path(str(path))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise IngestError(path, f"cannot be read as an {kind} workbook: {exc}") from None
    except Exception as exc:  # calamine's own errors
        raise IngestError(path, f"cannot be read as an {kind} workbook: {exc}") from None
    try:
        if xls and len(wb.sheet_names) > limit("workbook", "max_sheets"):
            raise OverLimit(path, f"the workbook's sheets: {len(wb.sheet_names)} is over the limit of "
                            f"{limit('workbook', 'max_sheets')} (ingest/config/limits.yml, workbook.max_sheets); "
                            "the file was not parsed")
        parsed = []
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            sheet_facts = facts.get(name)
            if xls:
                check_xls_sheet(path, name, sheet.height, sheet.width, **bounds)
                sheet_facts = SheetFacts(name, merges=[Merge(r1 + 1, c1 + 1, r2 + 1, c2 + 1) for (r1, c1), (r2, c2)
                                                       in (sheet.merged_cell_ranges or [])])
            result = _read_sheet(path, name, _grid(sheet), sheet_facts, layout)
            if result is not None:
                parsed.append((name, result))
    finally:
        wb.close()
    if not parsed:
        raise IngestError(path, f"no sheet has a header row starting with {layout['header_anchor']!r}")
    title = _resolve_title(path, [(name, t) for name, (t, _, _) in parsed])
    records = [rec for _, (_, recs, _) in parsed for rec in recs]
    notes = [n for _, (_, _, ns) in parsed for n in ns]
    if not records:
        raise IngestError(path, "no indicator rows below the header", sheet=parsed[0][0])
    _check_file_name(path, title, notes)
    validate_rows(path, records, title["year"], clock)
    for rec in records:
        rec.pop("_columns")
    rows = pd.DataFrame.from_records(records, columns=["sheet", "excel_row", *[c["key"] for c in layout["columns"]],
                                                      *VALUE_NUMBER_COLUMNS])
    return AdminExtract(path, [n for n, _ in parsed], title["municipality_code"], title["municipality_name"],
                        title["year"], rows, title["title_sheet"], title["title_row"], title["title_column"], notes)


def validate_rows(path: Path, records: list[dict], year: int,
                  clock: tuple[Path | None, str | None] = (None, None)) -> None:
    """The content rules of an extract; the first violation raises with its place."""
    latest = latest_allowed_year(clock[0] or path, clock[1])
    if year > latest:
        raise IngestError(path, f"the extract's year is after the current year {latest} (today is {today(clock[0] or path, clock[1])}): "
                          "a report from the future? Check the year in the title", sheet=records[0]["sheet"],
                          value=year)
    if year < first_allowed_year():
        raise IngestError(path, f"the extract's year is before {first_allowed_year()}, the first year with reference "
                          "units (seed reference/boundary_sets)", sheet=records[0]["sheet"], value=year)
    known = known_row_numbers()
    units = _row_units()
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
        whole = units.get(rec["row_no"]) in ("persons", "places")
        numbers = {}
        for col in VALUE_COLUMNS:
            text = rec[col]
            unit = admin_column_unit(col, units.get(rec["row_no"]))
            number, problem = _parse(text, NumberFormat(decimal=",", unit=unit)) if text is not None else (None, None)
            if problem and problem.startswith("ambiguous"):
                raise IngestError(path, problem, column=cols[col], value=text, **where)
            if text is not None and number is None and not is_not_available(text):
                raise IngestError(path, "not a number, X or empty", column=cols[col], value=text, **where)
            if number is not None and number < 0:
                raise IngestError(path, "negative value", column=cols[col], value=text, **where)
            if number is not None and whole and col in COUNT_COLUMNS and number != int(number):
                raise IngestError(path, f"a count of {units[rec['row_no']]} must be a whole number", column=cols[col],
                                  value=text, **where)
            numbers[col] = number
            rec[f"{col}_value"] = number  # the number as read here: what dbt uses (one parser, ingest/numbers.py)
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
