"""A small builder of deliveries in the shapes firms and municipalities send, written by hand
for these tests. It does not use ingest/sample/: the bytes, SPSS files and workbooks are made
here directly (csv text, pyreadstat, openpyxl), so the loader meets files it did not make.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat
from openpyxl import Workbook

# LM's data-table header as printed in ../shared/seeds/003_*.txt (typed here, not imported).
LM_HEADER = [
    "Nr.p.k.", "Pakalpojuma veids (atbilstoši sociālo pakalpojumu grozam)", "Datu veids", "Kopējais skaits",
    "Sievietes", "Vīrieši", "0-17 gadi", "18-24 gadi", "25-54 gadi", "55-64 gadi", "65-79 gadi", "80-89 gadi",
    "90+ gadi", "Pašvaldības izdevumi pakalpojuma nodrošināšanai (EUR/gadā)", "Datu avots, Komentāri",
]


# --- survey files ---------------------------------------------------------------------------------

def csv_bytes(header: list[str], rows: list[list], *, sep: str = ";", encoding: str = "cp1257",
              line_end: str = "\r\n", bom: bool = False, trailing_sep: bool = False,
              final_newline: bool = True) -> bytes:
    """A delimited file as an export tool writes it; values are written with str() (None -> empty)."""
    def line(values):
        text = sep.join("" if v is None else str(v) for v in values)
        return text + (sep if trailing_sep else "")

    text = line_end.join([line(header)] + [line(r) for r in rows]) + (line_end if final_newline else "")
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_sav(path: Path, df: pd.DataFrame, labels: dict[str, str] | None = None,
              value_labels: dict[str, dict] | None = None, formats: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(df, str(path), column_labels=labels or {}, variable_value_labels=value_labels or {},
                         variable_format=formats or {})
    return path


def codebook_yaml(wave: int, *, boundary_set: str = "post2025_42", fmt: str = "csv", data_file: str = "*.csv",
                  fieldwork: tuple[str, str] | None = None, extra: str = "", delivery_extra: str = "",
                  id_var: str = "resp", weight: str | None = "svars", muni: str = "pasv", sex: str = "dzim",
                  age: str = "vec", client: str = "kl", trust: str = "uzt", expected=(10, 200),
                  coverage: list[str] | None = None) -> str:
    """A codebook for the small foreign waves: four attributes and one item (trust). `coverage`: the
    municipalities of a local fieldwork plan (a wave of a few municipalities; without it the plan is
    national and every region needs respondents)."""
    delivery = {"csv": '  encoding: cp1257\n  delimiter: ";"\n  decimal: ","\n', "spss": "", "excel": ""}[fmt]
    return (
        f"wave: {wave}\n"
        f"scope: annual\n"
        f"boundary_set: {boundary_set}\n"
        f"age_range: [18, 80]\n"
        + (f"fieldwork: {{from: {fieldwork[0]}, to: {fieldwork[1]}}}\n" if fieldwork else "")
        + f"expected_respondents: {{min: {expected[0]}, max: {expected[1]}}}\n"
        + (f"coverage: {{municipalities: [{', '.join(repr(str(c)) for c in coverage)}]}}\n" if coverage else "")
        + f"delivery:\n  format: {fmt}\n  data_file: \"{data_file}\"\n{delivery}{delivery_extra}"
        f"respondent_id: {id_var}\n"
        f"weight: {weight if weight else 'null'}\n"
        f"attributes:\n"
        f"  municipality_code: {{variable: {muni}}}\n"
        f"  sex: {{variable: {sex}, codes: {{1: male, 2: female}}}}\n"
        f"  age: {{variable: {age}}}\n"
        f"  client: {{variable: {client}, codes: {{1: \"true\", 2: \"false\"}}}}\n"
        f"items:\n"
        f"  trust_social_service: {{variable: {trust}, codes: {{1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}}}}\n"
        + extra
    )


# --- workbooks ------------------------------------------------------------------------------------

def workbook(path: Path, sheets: list[dict]) -> Path:
    """Sheets as dicts: name, cells {"A2": value}, rows [(first_row, [values...])], merges ["A9:O9"].
    Formulas are written as text starting with '=' (openpyxl saves them without a value)."""
    wb = Workbook()
    wb.remove(wb.active)
    for spec in sheets:
        ws = wb.create_sheet(spec["name"])
        for first, values in spec.get("rows", []):
            for j, value in enumerate(values, start=1):
                if value is not None:
                    ws.cell(row=first, column=j, value=value)
        for ref, value in spec.get("cells", {}).items():  # after the rows: a cell may overwrite a row's value
            ws[ref] = value
        for ref in spec.get("merges", []):
            ws.merge_cells(ref)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def lm_rows(first_row: int, rows: list[list]) -> list[tuple[int, list]]:
    """Consecutive sheet rows from `first_row`, each a full LM row (15 cells)."""
    return [(first_row + i, r + [None] * (15 - len(r))) for i, r in enumerate(rows)]
