"""Resource limits, checked before a delivered file is parsed (the limits: ingest/config/limits.yml).

A reader allocates what a file claims: python-calamine builds a dense grid of a sheet's used range
(one cell at XFD1000100 is 16 billion cells: "memory allocation of 524340428800 bytes failed", the
process aborts), pyreadstat the cases x variables of a .sav header, PyYAML every alias expansion
of a codebook. So before a reader sees a file, what it would allocate is worked out here from the
file's structure, with bounded memory:

- a workbook: the zip's parts (how many sheets, each part's and all parts' inflated size, read with
  a bound so a zip whose directory lies about sizes fails its CRC here), and every sheet's used range
  from the position of each cell it holds (a streaming XML scan; a DTD or entity is refused);
- a CSV file: lines and the longest line, counted on the bytes;
- a .sav file: variables and cases x variables from its header;
- a codebook: its size, depth, nodes, and no aliases (ingest/safe_yaml.py).

A file over a limit raises OverLimit (an ingest.errors.Quarantine): the loader quarantines it,
names the limit in the audit, and the run goes on with the other deliveries.
"""
from __future__ import annotations

import functools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from ingest.errors import IngestError, OverLimit, printable
from ingest.readers.xlsx_inspect import _sheet_paths, column_letter, column_number
from ingest.safe_yaml import load_trusted_yaml
from ingest.settings import CONFIG_DIR

LIMITS_FILE = CONFIG_DIR / "limits.yml"
CELL_REF = re.compile(r"^([A-Z]{1,4})([0-9]{1,8})$")
CHUNK = 1 << 20


@functools.lru_cache(maxsize=1)
def limits() -> dict:
    """The limits (our own versioned file, read with the same bounded YAML loader as codebooks)."""
    return load_trusted_yaml(LIMITS_FILE)


def limit(section: str, key: str):
    return limits()[section][key]


def _n(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def _over(path, what: str, figure: int, section: str, key: str, bound: int | None = None) -> OverLimit:
    bound = limit(section, key) if bound is None else bound
    return OverLimit(path, f"{what}: {_n(figure)} is over the limit of {_n(bound)} (ingest/config/limits.yml, "
                     f"{section}.{key}); the file was not parsed")


def check_file_size(path, size: int) -> None:
    """Any delivered file: bigger than file.max_bytes is not read at all."""
    if size > limit("file", "max_bytes"):
        raise _over(path, "the file's size in bytes", size, "file", "max_bytes")


# --- workbooks ------------------------------------------------------------------------------------

@dataclass
class SheetRange:
    part: str          # the sheet's XML part in the zip
    last_row: int      # the lowest row holding a cell (0: no cells)
    last_column: int   # the rightmost column holding a cell (0: no cells)

    @property
    def cells(self) -> int:
        return self.last_row * self.last_column

    @property
    def corner(self) -> str:
        return f"{column_letter(self.last_column)}{self.last_row}" if self.cells else "-"


class _TooFar(Exception):
    def __init__(self, what: str, figure: int, bound: int, name: str):
        self.what, self.figure, self.bound, self.name = what, figure, bound, name


class _Refused(Exception):
    pass


def _scan_sheet(stream, part: str, bound: int, rows: tuple[int | None, str],
                columns: tuple[int, str]) -> tuple[SheetRange, int]:
    """The used range of one sheet's XML, streaming (cells without an `r` attribute follow the one
    before them, as readers place them); stops at the first cell past a limit. Returns (range, bytes)."""
    state = {"row": 0, "col": 0, "max_row": 0, "max_col": 0}
    (max_rows, rows_name), (max_columns, columns_name) = rows, columns
    max_cells = limit("workbook", "max_cells")

    def start(name, attrs):
        local = name.rsplit(" ", 1)[-1]
        if local == "row":
            r = attrs.get("r")
            state["row"] = int(r) if r and r.isdigit() else state["row"] + 1
            state["col"] = 0
        elif local == "c":
            ref = attrs.get("r")
            m = CELL_REF.match(ref or "")
            if m:
                state["col"] = column_number(m.group(1))
                state["row"] = int(m.group(2))
            else:
                state["col"] += 1
                state["row"] = max(state["row"], 1)
            if state["col"] > state["max_col"]:
                state["max_col"] = state["col"]
            if state["row"] > state["max_row"]:
                state["max_row"] = state["row"]
            if state["max_col"] > max_columns:
                raise _TooFar(f"a cell at {column_letter(state['col'])}{state['row']}: its column", state["col"],
                              max_columns, columns_name)
            if max_rows is not None and state["max_row"] > max_rows:
                raise _TooFar(f"a cell at {column_letter(state['col'])}{state['row']}: its row", state["row"],
                              max_rows, rows_name)
            if state["max_row"] * state["max_col"] > max_cells:
                corner = f"{column_letter(state['max_col'])}{state['max_row']}"
                raise _TooFar(f"the used range A1:{corner}: its cells", state["max_row"] * state["max_col"],
                              max_cells, "workbook.max_cells")

    def refuse(*_):
        raise _Refused("a DTD or entity declaration in a workbook part")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    read = 0
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        read += len(chunk)
        if read > bound:
            break
        parser.Parse(chunk, False)
    else:
        parser.Parse(b"", True)
    return SheetRange(part, state["max_row"], state["max_col"]), read


def _sheet_name(z: zipfile.ZipFile, part: str) -> str:
    """'sheet <name>' for a sheet part, from the workbook's own list (its part name if that fails)."""
    try:
        names = {p: n for n, p in _sheet_paths(z).items()}
        return f"sheet {printable(names[part])!r}"
    except Exception:
        return printable(part)


def check_workbook(path, *, rows: tuple[int | None, str] = (None, ""),
                   columns: tuple[int | None, str] = (None, "")) -> dict[str, SheetRange]:
    """Check an .xlsx file against the workbook limits before any reader opens it; returns the used
    range of every sheet part. `rows`/`columns`: a tighter bound and its name in limits.yml (an LM
    table's rows, a survey sheet's rows from its codebook). A file that is not a zip is left to the
    reader (it says so in its own words)."""
    if columns[0] is None:
        columns = (limit("workbook", "max_columns"), "workbook.max_columns")
    ranges: dict[str, SheetRange] = {}
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return ranges  # not an .xlsx package: the reader refuses it in its own words
    with z:
        infos = z.infolist()
        sheets = [i for i in infos if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")]
        if len(sheets) > limit("workbook", "max_sheets"):
            raise _over(path, "the workbook's sheets", len(sheets), "workbook", "max_sheets")
        part_bound = limit("workbook", "max_part_bytes")
        declared_total = sum(i.file_size for i in infos)
        if declared_total > limit("workbook", "max_total_bytes"):
            raise _over(path, "the workbook's parts, inflated, in bytes", declared_total, "workbook", "max_total_bytes")
        total = 0
        for info in infos:
            if info.file_size > part_bound:
                raise _over(path, f"part {printable(info.filename)!r} inflated, in bytes", info.file_size,
                            "workbook", "max_part_bytes")
            try:
                with z.open(info) as stream:
                    if info in sheets:
                        rng, read = _scan_sheet(stream, info.filename, part_bound, rows, columns)
                        ranges[info.filename] = rng
                    else:
                        read = 0
                        for chunk in iter(lambda: stream.read(CHUNK), b""):
                            read += len(chunk)
                            if read > part_bound:
                                break
            except _TooFar as far:
                sheet = _sheet_name(z, info.filename)
                raise OverLimit(path, f"{far.what} ({sheet}): {_n(far.figure)} is over the limit of {_n(far.bound)} "
                                f"(ingest/config/limits.yml, {far.name}); the file was not parsed") from None
            except _Refused as exc:
                raise OverLimit(path, f"{exc} ({printable(info.filename)}): refused; the file was not parsed") from None
            except expat.ExpatError:
                ranges[info.filename] = SheetRange(info.filename, 0, 0)  # not well-formed: the reader says so
                continue
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
                raise IngestError(path, f"cannot be read as an .xlsx workbook: {exc}") from None
            if read > part_bound:
                raise _over(path, f"part {printable(info.filename)!r} inflated, in bytes (more than its zip entry "
                            "says)", read, "workbook", "max_part_bytes")
            total += read
            if total > limit("workbook", "max_total_bytes"):
                raise _over(path, "the workbook's parts, inflated, in bytes", total, "workbook", "max_total_bytes")
    return ranges


# --- CSV ------------------------------------------------------------------------------------------

@dataclass
class CsvShape:
    records: int         # data lines (non-blank lines after the header)
    lines: int
    longest_line: int    # bytes


def check_csv(path, *, max_lines: tuple[int, str] | None = None) -> CsvShape:
    """Lines, non-blank data lines and the longest line of a CSV file, counted on the bytes in
    chunks: nothing is decoded or parsed. A line over csv.max_line_bytes, or more lines than
    `max_lines` (a bound and its name in limits.yml), is refused."""
    max_line = limit("csv", "max_line_bytes")
    lines, blank, current, longest, last = 0, 0, 0, 0, b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            blank += chunk.count(b"\n\n") + chunk.count(b"\n\r\n")  # blank lines hold no respondent
            parts = chunk.split(b"\n")
            for k, part in enumerate(parts):
                current = current + len(part) if k == 0 else len(part)
                if k < len(parts) - 1:  # the line ends here (a line's length is without its \r\n)
                    length = current - (1 if part.endswith(b"\r") else 0)
                else:
                    length = current
                if length > max_line:
                    raise _over(path, f"the length in bytes of line {lines + k + 1}", length, "csv", "max_line_bytes")
                longest = max(longest, length)
            lines += len(parts) - 1
            if max_lines is not None and lines > max_lines[0]:
                raise OverLimit(path, f"the file's lines: more than {_n(max_lines[0])} (ingest/config/limits.yml, "
                                f"{max_lines[1]}); the file was not parsed")
            last = chunk[-1:]
    total = lines + (0 if last == b"\n" else 1)
    return CsvShape(max(total - blank - 1, 0), total, longest)


# --- SPSS -----------------------------------------------------------------------------------------

def check_spss(path, n_variables: int | None, n_cases: int | None) -> None:
    """What a .sav header claims, before its data are read."""
    if n_variables is not None and n_variables > limit("spss", "max_variables"):
        raise _over(path, "the file's variables", n_variables, "spss", "max_variables")
    if n_variables is not None and n_cases is not None and n_cases > 0 \
            and n_cases * n_variables > limit("spss", "max_cells"):
        raise _over(path, "cases x variables", n_cases * n_variables, "spss", "max_cells")


__all__ = ["limits", "limit", "check_file_size", "check_workbook", "check_csv", "check_spss", "SheetRange",
           "CsvShape", "column_letter", "column_number"]


def is_xls(path) -> bool:
    """An Excel 97-2003 workbook (.xls, an OLE2 compound file), whatever its name says."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    except OSError:
        return False


def check_xls_sheet(path, name: str, height: int, width: int, *, rows: tuple[int | None, str] = (None, ""),
                    columns: tuple[int | None, str] = (None, "")) -> None:
    """A sheet of an .xls workbook against the limits, from its used range (the BIFF format itself caps a
    sheet at 65 536 rows and 256 columns), before its cells are converted."""
    col_bound, col_key = columns if columns[0] is not None else (limit("workbook", "max_columns"), "workbook.max_columns")
    if width > col_bound:
        section, key = col_key.split(".")
        raise _over(path, f"the columns of sheet {printable(name)!r}", width, section, key, col_bound)
    if rows[0] is not None and height > rows[0]:
        section, key = rows[1].split(".")
        raise _over(path, f"the rows of sheet {printable(name)!r}", height, section, key, rows[0])
    if height * width > limit("workbook", "max_cells"):
        raise _over(path, f"the cells of sheet {printable(name)!r}", height * width, "workbook", "max_cells")
