"""Step 1 of a wave file's path (ingest/survey): read the delivered format into a raw table.

SPSS .sav, an Excel sheet or a delimited text file becomes a `RawTable`: one column per delivered
(named) column with the values as delivered, the place in the file of each record (CSV line, sheet
row, SPSS case) and the file's own variable and value labels. What is refused here is about the
file's shape: its encoding, its CSV records, formulas and merged cells of a sheet, a header with
duplicate or missing names, lines with too few or too many fields, and a number of rows beyond the
wave's expected size (checked before the file is parsed, so a 2 M-row file is refused without being
read). Nothing here knows the codebook's codes or labels: that is the next step
(ingest/survey/apply_codebook.py).
"""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from ingest.codebook import Codebook
from ingest.errors import IngestError, shown
from ingest.file_patterns import matching_files
from ingest.limits import check_csv, check_spss, check_workbook, limit
from ingest.numbers import NumberFormat, parse_number
from ingest.readers.xlsx_inspect import inspect_xlsx, sheet_parts

EMPTY_TRAILING = "empty column after the last one (a trailing '{sep}'?)"


def read_spss(path: Path, encoding: str | None = None, **kw) -> tuple[pd.DataFrame, pyreadstat.metadata_container]:
    """A .sav file, its strings decoded as the file declares (or as the codebook's delivery.encoding
    says). Strings that are not valid in that encoding are named: which variable, which label."""
    try:
        return pyreadstat.read_sav(str(path), user_missing=True, apply_value_formats=False,
                                   **({"encoding": encoding} if encoding else {}), **kw)
    except Exception as exc:  # pyreadstat raises its own types for truncated/foreign files
        if "encoding" in str(exc) and "invalid byte sequence" in str(exc):
            raise _spss_encoding_error(path, encoding) from None
        raise IngestError(path, f"cannot be read as SPSS .sav: {exc}") from None


def _spss_encoding_error(path: Path, encoding: str | None) -> IngestError:
    """The first name or label of a .sav file that is not valid text in the encoding it was read
    with, and how to say the right one: read again byte for byte (latin-1 accepts every byte)."""
    declared = encoding or "UTF-8"
    try:
        _, meta = pyreadstat.read_sav(str(path), metadataonly=True, encoding="latin1")
    except Exception as exc:
        return IngestError(path, f"cannot be read as SPSS .sav: {exc}")
    file_encoding = encoding or "utf-8"

    def bad(text) -> bool:
        if not isinstance(text, str):
            return False
        try:
            text.encode("latin1").decode(file_encoding)
            return False
        except (UnicodeDecodeError, UnicodeEncodeError, LookupError):
            return True

    remedy = ("the file's texts are in another encoding than " + declared + (" (what the file declares)" if not encoding
              else " (delivery.encoding in the codebook)") + "; if it was written in Windows-1257, say so in the "
              "wave's codebook: `delivery: {format: spss, ..., encoding: cp1257}`")
    for var in meta.column_names:
        if bad(var):
            return IngestError(path, f"a variable name is not valid {declared}: {remedy}", column=var,
                               value=var.encode("latin1"))
    for var, label in zip(meta.column_names, meta.column_labels):
        if bad(label):
            return IngestError(path, f"the variable's label is not valid {declared}: {remedy}", column=var,
                               value=label.encode("latin1"))
    for var, labels in meta.variable_value_labels.items():
        for code, label in labels.items():
            if bad(label):
                return IngestError(path, f"the value label of code {shown(code)} is not valid {declared}: {remedy}",
                                   column=var, value=label.encode("latin1"))
    return IngestError(path, f"a text in the file is not valid {declared}: {remedy}")


@dataclass
class RawTable:
    """A delivered table before checks: data as delivered, places, labels."""

    df: pd.DataFrame  # one column per delivered (named, non-empty) column, values as delivered
    rows: np.ndarray  # place in the file of each record (CSV line, sheet row, SPSS case)
    row_word: str
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)
    user_missing: dict[str, str] = field(default_factory=dict)
    ignored: list[dict] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # column -> 1-based position in the file


# --- size before parsing -----------------------------------------------------------------------

def check_size(path: Path, cb: Codebook, n_rows: int | None, counted: str, exact: bool = False) -> None:
    """Rows against the wave's expected size. Before parsing (`exact` False) the count is the
    file's own claim or a line count, so only "too many" is decided there; after parsing both."""
    if n_rows is None:
        return
    lo, hi = cb.expected_respondents
    if n_rows > hi:
        raise IngestError(path, f"the file has {n_rows} {counted}, more than the {hi} respondents expected for "
                          f"wave {cb.wave} (expected_respondents in codebook {cb.path.name} or "
                          "ingest/config/survey_delivery.yml); it was not read further")
    if exact and n_rows < lo:
        raise IngestError(path, f"the file has {n_rows} {counted}, fewer than the {lo} respondents expected for "
                          f"wave {cb.wave} (expected_respondents in codebook {cb.path.name} or "
                          "ingest/config/survey_delivery.yml): a truncated or partial delivery?")


# --- structure of a delimited or sheet table ------------------------------------------------------

def _structure(path: Path, records: list[tuple[int, list]], row_word: str, sep: str | None,
               last_line_complete: bool = True, sheet: str | None = None) -> RawTable:
    """Header and records (place, fields) -> a table of the named columns, or an error in words
    for what pandas would have hidden: duplicate names (`uztic.1`), unnamed columns
    (`Unnamed: 8`), lines with too few or too many fields, a truncated last line."""
    if not records:
        raise IngestError(path, "the file has no header line" if row_word == "line" else "the sheet is empty",
                          sheet=sheet)
    header_place, header = records[0]
    names = [("" if v is None else str(v)).strip() for v in header]
    named = [i for i, n in enumerate(names) if n]
    if not named:
        raise IngestError(path, "the header has no column names", row=header_place, row_word=row_word, sheet=sheet)
    width = named[-1] + 1  # columns up to the last named one
    seen: dict[str, int] = {}
    for i in named:
        if names[i] in seen:
            raise IngestError(path, f"column {names[i]!r} appears twice in the header (columns {seen[names[i]] + 1} "
                              f"and {i + 1}); name each column once", row=header_place, row_word=row_word,
                              column=names[i], sheet=sheet)
        seen[names[i]] = i
    body = records[1:]
    data, places = [], []
    trailing_used = False
    for n, (place, fields) in enumerate(body):
        fields = ["" if v is None else v for v in fields]
        if len(fields) < width:
            if n == len(body) - 1 and row_word == "line":
                raise IngestError(path, f"the last line is truncated: it has {len(fields)} of the {width} fields of "
                                  "the header" + ("" if last_line_complete else
                                                  " and the file ends without a line break")
                                  + "; was the file cut off?", row=place, row_word=row_word)
            if row_word == "line":
                raise IngestError(path, f"the line has {len(fields)} fields, the header {width} "
                                  f"(a missing '{sep}' or a line break inside a value?)", row=place, row_word=row_word)
            fields = fields + [""] * (width - len(fields))
        extra = [j for j in range(width, len(fields)) if str(fields[j]).strip() != ""]
        if extra:
            raise IngestError(path, f"a value in column {extra[0] + 1}, after the last named column "
                              f"({names[named[-1]]!r}); the header has {width} columns",
                              row=place, row_word=row_word, value=fields[extra[0]], sheet=sheet)
        if len(fields) > width:
            trailing_used = True
        data.append(fields[:width])
        places.append(place)
    unnamed = [i for i in range(width) if not names[i]]
    for i in unnamed:
        filled = next((k for k, r in enumerate(data) if str(r[i]).strip() != ""), None)
        if filled is not None:
            raise IngestError(path, f"column {i + 1} has no name in the header but holds values; name it in the "
                              "header (or remove it)", row=places[filled], row_word=row_word,
                              value=data[filled][i], sheet=sheet)
    ignored = [{"column": f"(column {i + 1}, no name)", "position": i + 1, "reason": "empty column without a name"}
               for i in unnamed]
    if trailing_used or len(names) > width:
        ignored.append({"column": f"(column {width + 1}, no name)", "position": width + 1,
                        "reason": EMPTY_TRAILING.format(sep=sep or ",") if sep else
                        "empty column after the last one"})
    frame = pd.DataFrame(data, columns=[names[i] if names[i] else f"\0{i}" for i in range(width)], dtype=object)
    frame = frame[[names[i] for i in named]]
    return RawTable(frame, np.asarray(places, dtype="int64"), row_word, ignored=ignored,
                  positions={names[i]: i + 1 for i in named})


# --- the formats -----------------------------------------------------------------------------------

def _from_spss(path: Path, cb: Codebook) -> RawTable:
    encoding = cb.delivery.get("encoding")
    _, meta = read_spss(path, encoding, metadataonly=True)
    n = getattr(meta, "number_rows", None)
    n = n if isinstance(n, int) and n >= 0 else None
    check_spss(path, getattr(meta, "number_columns", None), n)
    check_size(path, cb, n, "cases")
    df, meta = read_spss(path, encoding)
    missing = {
        c: ";".join(f"{r['lo']:g}" if r["lo"] == r["hi"] else f"{r['lo']:g}-{r['hi']:g}" for r in ranges)
        for c, ranges in meta.missing_ranges.items()
    }
    table = RawTable(df, np.arange(1, len(df) + 1, dtype="int64"), "row", dict(zip(meta.column_names, meta.column_labels)),
                   {v: {float(k): lab for k, lab in m.items()} for v, m in meta.variable_value_labels.items()},
                   missing, positions={c: i + 1 for i, c in enumerate(df.columns)})
    return table


def _xlsx_checks(path: Path, sheet: str, first_data_row: int | None = None) -> None:
    """Formulas without a saved value and merged cells make a survey sheet unreadable."""
    try:
        facts = inspect_xlsx(path).get(sheet)
    except Exception:
        return None  # not an .xlsx package: the reader below says so
    if facts is None:
        return None
    if facts.formulas_without_value:
        col, row, formula = facts.formulas_without_value[0]
        raise IngestError(path, f"formula ={formula} has no saved value (the workbook was written by a program "
                          "that does not calculate): open and save it in Excel or LibreOffice, or deliver values",
                          sheet=sheet, row=row, column=col)
    for m in facts.merges:
        if first_data_row is None or m.last_row >= first_data_row:
            raise IngestError(path, f"merged cells {m.ref}: one value shown over several cells; unmerge them and "
                              "fill every cell", sheet=sheet, row=m.first_row,
                              column=m.ref.split(":")[0].rstrip("0123456789"))


def _sheet_rows(path: Path, cb: Codebook) -> dict[str, int]:
    """Every sheet's last row holding a cell, by sheet name, checked against the limits first: the
    rows a wave sheet may have follow from its codebook (expected_respondents max + survey_sheet
    extra_rows); columns and cells from limits.yml (a stray cell at XFD1000100 is refused here)."""
    bound = cb.expected_respondents[1] + limit("survey_sheet", "extra_rows")
    ranges = check_workbook(path, rows=(bound, f"expected_respondents max of codebook {cb.path.name} + "
                                               "survey_sheet.extra_rows"))
    try:
        parts = sheet_parts(path)
    except Exception:
        return {}
    return {name: ranges[part].last_row for name, part in parts.items() if part in ranges}


def _from_excel(path: Path, cb: Codebook) -> RawTable:
    from python_calamine import CalamineWorkbook

    d = cb.delivery
    last_rows = _sheet_rows(path, cb)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise IngestError(path, f"cannot be read as an .xlsx workbook: {exc}") from None
    try:
        names = wb.sheet_names
        sheet = d.get("sheet") or names[0]
        if sheet not in names:
            raise IngestError(path, f"no sheet {sheet!r}; the workbook has {names}")
        _xlsx_checks(path, sheet, first_data_row=2)
        if sheet in last_rows:
            check_size(path, cb, max(last_rows[sheet] - 1, 0), "rows below the header")
        grid = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        others = {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in names if n != sheet}
    finally:
        wb.close()
    records = [(i + 1, list(r)) for i, r in enumerate(grid) if any(str(v).strip() != "" for v in r)]
    while records and records[0] and all(str(v).strip() == "" for v in records[0][1]):
        records.pop(0)
    table = _structure(path, records, "row", None, sheet=sheet)
    renamed, labels = {}, {}
    for col in table.df.columns:
        text = str(col).strip()
        if d.get("header") == "code_prefix":
            var, _, label = text.partition(". ")
        else:
            var, label = text, text
        renamed[col] = var.strip()
        labels[var.strip()] = label.strip() or text
    if len(set(renamed.values())) < len(renamed):
        dup = next(v for v in renamed.values() if list(renamed.values()).count(v) > 1)
        raise IngestError(path, f"column {dup!r} appears twice in the header; name each column once",
                          sheet=sheet, column=dup)
    table.df = table.df.rename(columns=renamed)
    table.positions = {renamed[c]: p for c, p in table.positions.items()}
    table.labels = labels
    for grid_other in others.values():
        rows = [r for r in grid_other if any(str(v).strip() != "" for v in r)]
        if not rows:
            continue
        head = [str(v).strip() for v in rows[0]]
        if {"Mainīgais", "Kods", "Nozīme"} <= set(head):
            iv, ik, il = head.index("Mainīgais"), head.index("Kods"), head.index("Nozīme")
            for r in rows[1:]:
                code, _ = parse_number(r[ik], number_format(cb, "code"))
                if code is None:
                    continue  # a heading or note line of the code sheet
                table.value_labels.setdefault(str(r[iv]).strip(), {})[code] = str(r[il])
    return table


# byte-order marks of the wide encodings (Excel's "Unicode Text" saves UTF-16 LE with one); UTF-32's
# first, as its little-endian mark begins with UTF-16's
WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
             (b"\xfe\xff", "UTF-16"))


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    enc = encoding.replace("-", "").replace("_", "").lower()
    if not enc.startswith(("utf16", "utf32")):
        # read as a one-byte encoding, a wide file parses into nonsense fields ("2 fields, expected 14"):
        # say what the file is instead
        for bom, name in WIDE_BOMS:
            if data.startswith(bom):
                raise IngestError(path, f"the file is {name} encoded (it starts with a {name} byte-order mark, as "
                                  f"Excel's \"Unicode Text\" saves), but its codebook says {encoding}; re-export it "
                                  f"as CSV in {encoding} (or CSV UTF-8 and correct delivery.encoding)")
        nul = data.find(b"\x00", 0, 4096)
        if nul >= 0:
            raise IngestError(path, f"the file has a NUL byte at byte {nul + 1}: no {encoding} text has one (a UTF-16 "
                              "file without its byte-order mark? a binary file?); re-export it as CSV",
                              row=data[:nul].count(b"\n") + 1, row_word="line")
    if enc in ("utf8", "utf8sig"):
        try:
            # a byte-order mark, if any, is not part of the first name; text in NFC (NFD names read the same)
            return unicodedata.normalize("NFC", data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise IngestError(path, f"not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded "
                              "(is the file in Windows-1257? then say encoding: cp1257)", row=line,
                              row_word="line") from None
    if data.startswith(b"\xef\xbb\xbf"):
        raise IngestError(path, f"the file is UTF-8 encoded (it starts with a UTF-8 byte-order mark), but its "
                          f"codebook says {encoding}; re-export it or correct delivery.encoding")
    if not data.isascii():
        try:
            data.decode("utf-8")  # non-ASCII bytes that are valid UTF-8: a UTF-8 file
            raise IngestError(path, f"the file is UTF-8 encoded, but its codebook says {encoding}; "
                              "re-export it or correct delivery.encoding")
        except UnicodeDecodeError:
            pass
    try:
        return unicodedata.normalize("NFC", data.decode(encoding))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(path, f"not valid {encoding}: byte 0x{data[exc.start]:02x} cannot be decoded",
                          row=line, row_word="line") from None
    except LookupError:
        raise IngestError(path, f"unknown encoding {encoding!r} in delivery.encoding") from None


def _csv_records(path: Path, text: str, sep: str) -> tuple[list[tuple[int, list]], bool]:
    """(first line of the record, fields) of every non-blank record; and whether the file's
    last line ends with a line break."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    records, prev = [], 0
    try:
        for fields in reader:
            start = prev + 1
            prev = reader.line_num
            if not fields or all(f.strip() == "" for f in fields) and len(fields) <= 1:
                continue
            records.append((start, fields))
    except csv.Error as exc:
        raise IngestError(path, f"cannot be parsed as {sep!r}-separated CSV: {exc}", row=prev + 1,
                          row_word="line") from None
    return records, text.endswith(("\n", "\r"))


def _from_csv(path: Path, cb: Codebook, code_lists: list[Path] | None = None) -> RawTable:
    d = cb.delivery
    encoding, sep = d.get("encoding", "utf-8"), d.get("delimiter", ",")
    check_size(path, cb, check_csv(path).records, "data lines")
    text = _decode(path, encoding)
    records, complete = _csv_records(path, text, sep)
    table = _structure(path, records, "line", sep, last_line_complete=complete)
    if len(table.positions) < 2:
        raise IngestError(path, f"one column only: is the separator really {sep!r}?", value=list(table.df.columns))
    table.labels = {c: c for c in table.df.columns}
    pattern = d.get("code_list_file")
    if pattern:
        lists = code_lists if code_lists is not None else matching_files(path.parent, pattern)
        if not lists:
            raise IngestError(path, f"code list {pattern!r} named by codebook {cb.path.name} is not beside the file")
        if len(lists) > 1:  # a wave has one code list: reading one and ignoring another would be a guess
            raise IngestError(path, f"{len(lists)} files beside it match the code list {pattern!r} of codebook "
                              f"{cb.path.name}; a wave has one code list: leave only the one that belongs to it",
                              value=[p.name for p in lists])
        code_path = lists[0]
        check_csv(code_path, max_lines=(limit("csv", "code_list_max_lines"), "csv.code_list_max_lines"))
        crecords, ccomplete = _csv_records(code_path, _decode(code_path, encoding), sep)
        codes = _structure(code_path, crecords, "line", sep, last_line_complete=ccomplete)
        need = {"mainigais", "kods", "nozime"}
        if not need <= set(codes.df.columns):
            raise IngestError(code_path, f"a code list has the columns {', '.join(sorted(need))}",
                              value=list(codes.df.columns))
        fmt = number_format(cb, "code")
        for place, r in zip(codes.rows, codes.df.itertuples(index=False)):
            r = r._asdict()
            if str(r["kods"]).strip() == "":
                table.labels[r["mainigais"]] = r["nozime"]
                continue
            code, problem = parse_number(r["kods"], fmt)
            if code is None:
                raise IngestError(code_path, f"a code in the code list is {problem or 'not a number'}", row=int(place),
                                  row_word="line", column="kods", value=r["kods"])
            table.value_labels.setdefault(r["mainigais"], {})[code] = r["nozime"]
    return table


def number_format(cb: Codebook, unit: str | None) -> NumberFormat:
    """How this delivery writes numbers as text (ingest/numbers.py; CSV fields, Excel text cells, SPSS
    strings alike): the codebook's decimal mark (delivery.decimal, '.' by default); exponents and inf
    read as numbers (a weight of inf is then refused by its own rule, naming it); `unit` bounds the
    decimals (numbers.yml)."""
    return NumberFormat(decimal=cb.delivery.get("decimal") or ".", exponent_and_inf=True, unit=unit)


class Places:
    """Where a respondent is in the file and what their id is, for messages. `hint`: said after a
    refused value on a row (that the codebook can declare the firm's own exclusions)."""

    def __init__(self, path: Path, table: RawTable, ids: pd.Series | None, hint: str | None = None):
        self.path, self.table, self.ids, self.hint = path, table, ids, hint

    def error(self, i: int, problem: str, column: str, row_value: bool = False, **kw) -> IngestError:
        rid = None
        if self.ids is not None:
            rid = self.ids.iloc[i]
        return IngestError(self.path, problem, row=int(self.table.rows[i]), row_word=self.table.row_word,
                           column=column, respondent=rid, note=self.hint if row_value else None, **kw)


def read_table(path: Path, codebook: Codebook, code_lists: list[Path] | None) -> RawTable:
    """The file in the codebook's delivery format as a raw table (`make validate` lists its labels)."""
    fmt = codebook.delivery_format
    return {"spss": lambda: _from_spss(path, codebook), "excel": lambda: _from_excel(path, codebook),
            "csv": lambda: _from_csv(path, codebook, code_lists)}[fmt]()


def read_wave_file(path: str | Path, codebook: Codebook, code_lists: list[Path] | None = None) -> RawTable:
    """One wave file (or one part of a wave delivered in several) as a raw table with at least one
    record. `code_lists`: the CSV code list(s) to read (by default the files beside it that match the
    codebook's code_list_file pattern)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path, "the file is empty")
    table = read_table(path, codebook, code_lists)
    if table.df.empty:
        raise IngestError(path, "the file has no respondents")
    return table


__all__ = ["RawTable", "Places", "check_size", "number_format", "read_spss", "read_table", "read_wave_file"]
