"""What a cell reader does not tell: read straight from an .xlsx file's XML (it is a zip).

- formulas without a saved value: a workbook written by a program (openpyxl, a report
  generator) stores ``=SUM(E10:F10)`` but no result until Excel or LibreOffice recalculates
  it; every reader then sees an empty cell, so such a cell must be refused, not read as empty;
- merged cells (``<mergeCell ref="D10:E10"/>``): one value shown over several cells;
- the sheet's dimension (``<dimension ref="A1:O2401"/>``): its number of rows, without reading them.

Only the sheet XML is scanned (a regex over the text, no DOM), which is fast.
"""
from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
VALUE = re.compile(rb"<(?:\w+:)?v>([^<]+)</(?:\w+:)?v>")
MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*\bref="([A-Z]*)(\d*)(?::([A-Z]+)(\d+))?"')


def column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_letter(number: int) -> str:
    out = ""
    while number:
        number, rem = divmod(number - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass(frozen=True)
class Merge:
    first_row: int
    first_col: int
    last_row: int
    last_col: int

    @property
    def ref(self) -> str:
        return (f"{column_letter(self.first_col)}{self.first_row}:"
                f"{column_letter(self.last_col)}{self.last_row}")

    def covers(self, row: int, col: int) -> bool:
        return self.first_row <= row <= self.last_row and self.first_col <= col <= self.last_col


@dataclass
class SheetFacts:
    name: str
    formulas_without_value: list[tuple[str, int, str]] = field(default_factory=list)  # (col letters, row, formula)
    merges: list[Merge] = field(default_factory=list)
    last_row: int | None = None  # from the dimension element, if the writer set one


def _sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> path of its XML part inside the zip."""
    wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    out = {}
    for sheet in wb.iter(f"{NS_MAIN}sheet"):
        target = targets.get(sheet.get(f"{NS_REL}id"))
        if target is None:
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        out[sheet.get("name")] = path
    return out


def sheet_parts(path: str | Path) -> dict[str, str]:
    """Sheet name -> its XML part in the zip."""
    with zipfile.ZipFile(path) as z:
        return _sheet_paths(z)


def inspect_xlsx(path: str | Path) -> dict[str, SheetFacts]:
    """Formulas without a saved value, merged ranges and dimension of every sheet.
    Raises zipfile.BadZipFile / KeyError for a file that is not an .xlsx package."""
    facts = {}
    with zipfile.ZipFile(path) as z:
        for name, part in _sheet_paths(z).items():
            xml = z.read(part)
            f = SheetFacts(name)
            dim = DIMENSION.search(xml, 0, 4096) or DIMENSION.search(xml)
            if dim and (dim.group(4) or dim.group(2)):
                f.last_row = int(dim.group(4) or dim.group(2))
            if b"<f" in xml or b":f" in xml:
                for m in CELL.finditer(xml):
                    inner = m.group(2)
                    if not inner:
                        continue
                    formula = FORMULA.search(inner)
                    if formula is None or VALUE.search(inner):
                        continue
                    if b't="str"' in m.group(1) and b"<v" in inner:
                        continue  # a formula whose saved result is the empty text
                    ref = REF.search(m.group(1))
                    if ref:
                        text = (formula.group(1) or b"").decode("utf-8", "replace")
                        f.formulas_without_value.append((ref.group(1).decode(), int(ref.group(2)), text))
            for m in MERGE.finditer(xml):
                c1, r1 = column_number(m.group(1).decode()), int(m.group(2))
                c2 = column_number(m.group(3).decode()) if m.group(3) else c1
                r2 = int(m.group(4)) if m.group(4) else r1
                f.merges.append(Merge(r1, c1, r2, c2))
            facts[name] = f
    return facts
