"""Read a delivered survey wave and check it against its codebook.

Returns the delivery in long form (one row per respondent x stored variable, the delivered
code kept as is) plus the file's own variable and value labels. Any problem raises IngestError
naming the file, the place as the file shows it (CSV line, sheet row, SPSS case) with the
respondent's id, the column and the value as written; nothing is returned half-read.

What a delivery may hold besides the codebook's variables: columns the codebook does not map
(names, interview dates, interviewer ids) are *ignored*: they are listed in the result (and the
audit) and never stored, unless the codebook keeps them (``kept_attributes``) or says
``strict_columns: true`` (then they are refused). Before a file is parsed its number of rows is
checked against the wave's expected size, so a 2 M-row file is refused without being read.
"""
from __future__ import annotations

import csv
import io
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from ingest.codebook import Codebook, delivery_defaults
from ingest.errors import IngestError, shown
from ingest.file_patterns import matching_files
from ingest.labels import label_key, normalise_label
from ingest.limits import check_csv, check_spss, check_workbook, limit
from ingest.municipalities import normalise_code, resolve_codes
from ingest.numbers import NumberFormat, parse_number, parse_numbers
from ingest.readers.xlsx_inspect import inspect_xlsx, sheet_parts
from ingest.settings import today

EMPTY_TRAILING = "empty column after the last one (a trailing '{sep}'?)"


@dataclass
class SurveyDelivery:
    path: Path
    wave: int
    n_respondents: int
    cells: pd.DataFrame  # row_number, respondent_source_id, variable, value_num, value_text
    variables: pd.DataFrame  # variable, position, label, var_type, user_missing
    value_labels: pd.DataFrame  # variable, code, label
    ignored_columns: list[dict] = field(default_factory=list)  # column, position, reason
    aliases_applied: list[dict] = field(default_factory=list)  # variable, delivered_code, applied_code, rows, ...
    file_rows: np.ndarray | None = None  # the file's line / row / case of each respondent
    excluded: list[dict] = field(default_factory=list)  # rows the firm's status dropped: status, reason, rows
    municipalities: pd.Series | None = None  # each respondent's municipality code (after aliases)

    def notes(self) -> list[str]:
        """What was done to the delivery besides loading it, in words (shown after a load)."""
        out = [f"ignored column {c['column']!r} (position {c['position']}): {c['reason']}; not stored"
               for c in self.ignored_columns]
        out += [f"municipality code {a['delivered_code']} read as {a['applied_code']} in {a['rows']} rows "
                f"(alias valid {a['valid_from'] or '…'} to {a['valid_to'] or 'open'}, seed reference/ref_code_aliases)"
                for a in self.aliases_applied]
        reasons = delivery_defaults()["row_exclusion_reasons"] if self.excluded else {}
        out += [f"{e['rows']} row(s) with status {e['status']!r} in column {e['variable']!r} not loaded: "
                f"{reasons[e['reason']]['en']} (codebook row_status)" for e in self.excluded]
        return out


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
class _Table:
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

def _check_size(path: Path, cb: Codebook, n_rows: int | None, counted: str, exact: bool = False) -> None:
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
               last_line_complete: bool = True, sheet: str | None = None) -> _Table:
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
    return _Table(frame, np.asarray(places, dtype="int64"), row_word, ignored=ignored,
                  positions={names[i]: i + 1 for i in named})


# --- the formats -----------------------------------------------------------------------------------

def _from_spss(path: Path, cb: Codebook) -> _Table:
    encoding = cb.delivery.get("encoding")
    _, meta = read_spss(path, encoding, metadataonly=True)
    n = getattr(meta, "number_rows", None)
    n = n if isinstance(n, int) and n >= 0 else None
    check_spss(path, getattr(meta, "number_columns", None), n)
    _check_size(path, cb, n, "cases")
    df, meta = read_spss(path, encoding)
    missing = {
        c: ";".join(f"{r['lo']:g}" if r["lo"] == r["hi"] else f"{r['lo']:g}-{r['hi']:g}" for r in ranges)
        for c, ranges in meta.missing_ranges.items()
    }
    table = _Table(df, np.arange(1, len(df) + 1, dtype="int64"), "row", dict(zip(meta.column_names, meta.column_labels)),
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


def _from_excel(path: Path, cb: Codebook) -> _Table:
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
            _check_size(path, cb, max(last_rows[sheet] - 1, 0), "rows below the header")
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
                code, _ = parse_number(r[ik], _number_format(cb, "code"))
                if code is None:
                    continue  # a heading or note line of the code sheet
                table.value_labels.setdefault(str(r[iv]).strip(), {})[code] = str(r[il])
    return table


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    enc = encoding.replace("-", "").replace("_", "").lower()
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


def _from_csv(path: Path, cb: Codebook, code_lists: list[Path] | None = None) -> _Table:
    d = cb.delivery
    encoding, sep = d.get("encoding", "utf-8"), d.get("delimiter", ",")
    _check_size(path, cb, check_csv(path).records, "data lines")
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
        code_path = lists[0]
        check_csv(code_path, max_lines=(limit("csv", "code_list_max_lines"), "csv.code_list_max_lines"))
        crecords, ccomplete = _csv_records(code_path, _decode(code_path, encoding), sep)
        codes = _structure(code_path, crecords, "line", sep, last_line_complete=ccomplete)
        need = {"mainigais", "kods", "nozime"}
        if not need <= set(codes.df.columns):
            raise IngestError(code_path, f"a code list has the columns {', '.join(sorted(need))}",
                              value=list(codes.df.columns))
        fmt = _number_format(cb, "code")
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


# --- checks against the codebook -------------------------------------------------------------------

def _number_format(cb: Codebook, unit: str | None) -> NumberFormat:
    """How this delivery writes numbers as text (ingest/numbers.py; CSV fields, Excel text cells, SPSS
    strings alike): the codebook's decimal mark (delivery.decimal, '.' by default); exponents and inf
    read as numbers (a weight of inf is then refused by its own rule, naming it); `unit` bounds the
    decimals (numbers.yml)."""
    return NumberFormat(decimal=cb.delivery.get("decimal") or ".", exponent_and_inf=True, unit=unit)


UNIT_OF_ROLE = {"id": "code", "weight": "weight", "age": "years"}  # other numeric roles hold codes


def _as_text(values: pd.Series) -> pd.Series:
    """Cells of a text column (municipality code, kept attributes) as stripped text, None if empty."""
    def one(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        text = str(v).strip()
        return text or None
    return values.map(one).astype(object)


class _Places:
    """Where a respondent is in the file and what their id is, for messages. `hint`: said after a
    refused value on a row (that the codebook can declare the firm's own exclusions)."""

    def __init__(self, path: Path, table: _Table, ids: pd.Series | None, hint: str | None = None):
        self.path, self.table, self.ids, self.hint = path, table, ids, hint

    def error(self, i: int, problem: str, column: str, row_value: bool = False, **kw) -> IngestError:
        rid = None
        if self.ids is not None:
            rid = self.ids.iloc[i]
        return IngestError(self.path, problem, row=int(self.table.rows[i]), row_word=self.table.row_word,
                           column=column, respondent=rid, note=self.hint if row_value else None, **kw)


ROW_STATUS_HINT = ("If the survey firm excluded this row itself (a status column of its own), the codebook can say "
                   "so: row_status (README, \"Codebooks\")")


def _row_status_hint(cb: Codebook, table: _Table) -> str | None:
    """A wave without a row_status rule whose file has columns the codebook does not map (a status among
    them, perhaps): a refused value says that a rule can be declared."""
    if cb.row_rule is not None:
        return None
    return ROW_STATUS_HINT if any(c.get("position") for c in table.ignored) else None


def _cell_text(v) -> str | None:
    """A delivered cell as text for label matching (a number typed in a sheet as its digits)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    text = normalise_label(v)
    return text or None


def _match_labels(places: "_Places", values: pd.Series, var, cb: Codebook) -> pd.Series:
    """A label-coded column: each delivered label as the codebook's label it matches (ingest/labels.py),
    or the codebook's target for a municipality name (its ATVK code). An unmapped label is refused."""
    lookup = var.label_lookup()
    texts = values.map(_cell_text)
    matched = texts.map(lambda t: None if t is None else lookup.get(label_key(t, var.ignore_case)))
    bad = (texts.notna() & matched.isna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        key = f"{'items.' + var.item_code if var.role == 'item' else 'attributes.' + var.role}.labels"
        case = "" if var.ignore_case else ", letter case counts"
        raise places.error(i, f"label not in codebook {cb.path.name} ({key}; matched after spaces are normalised"
                           f"{case})", var.variable, row_value=True, value=values.iloc[i])
    if var.role == "municipality_code":
        return matched.map(lambda lab: None if lab is None else var.labels[lab][0]).astype(object)
    return matched.astype(object)


def _select_columns(path: Path, table: _Table, cb: Codebook) -> None:
    """Keep the codebook's columns; ignore (or, with strict_columns, refuse) the others."""
    stored = [v.variable for v in cb.stored_variables]
    needed = stored + ([cb.row_rule.variable] if cb.row_rule else [])
    missing = [v for v in needed if v not in table.df.columns]
    if missing:
        raise IngestError(path, f"variables named in codebook {cb.path.name} are not in the file",
                          column=missing[0], value=missing)
    listed = set(cb.delivery.get("extra_columns") or [])
    unmapped = [c for c in table.df.columns if c not in needed]
    if cb.strict_columns:
        refused = [c for c in unmapped if c not in listed]
        if refused:
            raise IngestError(path, f"columns not in codebook {cb.path.name}, which says strict_columns: true: map "
                              "them, keep them (kept_attributes) or list them in delivery.extra_columns",
                              column=refused[0], value=refused)
    for c in unmapped:
        reason = ("listed in delivery.extra_columns" if c in listed else f"not in codebook {cb.path.name}")
        table.ignored.append({"column": c, "position": table.positions.get(c), "reason": reason})
    table.ignored.sort(key=lambda c: c["position"] or 0)
    table.df = table.df[needed]


def _apply_row_rule(path: Path, table: _Table, cb: Codebook) -> list[dict]:
    """The firm's own status (codebook row_status): rows it drops leave the table before anything is
    checked; returns what was dropped, per delivered status and reason."""
    rule = cb.row_rule
    if rule is None:
        return []
    status = table.df[rule.variable]
    texts = status.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else
                       (str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)))
    reasons = texts.map(lambda t: rule.reason_of(t) if t is not None and normalise_label(t) != "" else
                        ("status_not_kept" if rule.keep is not None else None))
    dropped = reasons.notna().to_numpy()
    excluded = []
    if dropped.any():
        shown_status = texts[dropped].map(lambda t: normalise_label(t) if t is not None else "")
        counts = pd.DataFrame({"status": shown_status.to_numpy(), "reason": reasons[dropped].to_numpy()})
        for (st, reason), n in counts.value_counts(sort=False).sort_index().items():
            excluded.append({"variable": rule.variable, "status": st, "reason": reason, "rows": int(n)})
    keep = ~dropped
    table.df = table.df.loc[keep].drop(columns=[rule.variable]).reset_index(drop=True)
    table.rows = table.rows[keep]
    table.ignored.append({"column": rule.variable, "position": table.positions.get(rule.variable),
                          "reason": "the survey firm's status (codebook row_status): decides which rows are respondents"})
    table.ignored.sort(key=lambda c: c["position"] or 0)
    return excluded


def _convert(path: Path, table: _Table, cb: Codebook) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers for the numeric columns, text for the municipality code and kept attributes;
    returns the converted frame and the respondent ids as text."""
    df = table.df
    idv = cb.respondent_id
    roles = {v.variable: v.role for v in cb.variables}
    id_numbers, id_problems = parse_numbers(df[idv], _number_format(cb, "code"))
    id_bad = id_problems.notna()
    numeric_ids = not id_bad.any()
    if numeric_ids:
        ids_text = id_numbers.map(lambda v: None if math.isnan(v) else
                                  (str(int(v)) if v.is_integer() else repr(v))).astype(object)
    else:  # ids with letters ("A-0012") stay text
        ids_text = _as_text(df[idv])
    places = _Places(path, table, ids_text, hint=_row_status_hint(cb, table))
    text_vars = {cb.by_role("municipality_code").variable} | {k.variable for k in cb.kept}
    if not numeric_ids:
        text_vars.add(idv)
    labelled = {v.variable: v for v in cb.variables if v.labels}
    out = {}
    for col in df.columns:
        if col in labelled:
            out[col] = _match_labels(places, df[col], labelled[col], cb)
            continue
        if col in text_vars:
            out[col] = _as_text(df[col])
            continue
        if col == idv:
            numbers, problems = id_numbers, id_problems
        else:
            numbers, problems = parse_numbers(df[col], _number_format(cb, UNIT_OF_ROLE.get(roles.get(col), "code")))
        bad = problems.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise places.error(i, problems.iloc[i], col, row_value=True, value=df[col].iloc[i])
        out[col] = numbers
    return pd.DataFrame(out, index=df.index), ids_text


def _check_against_codebook(path: Path, table: _Table, df: pd.DataFrame, ids: pd.Series, cb: Codebook) -> None:
    places = _Places(path, table, ids, hint=_row_status_hint(cb, table))
    written = table.df

    def first(mask) -> int:
        return int(np.flatnonzero(np.asarray(mask))[0])

    if ids.isna().any():
        i = first(ids.isna())
        raise places.error(i, "respondent id is empty", cb.respondent_id)
    dup = ids.duplicated(keep="first")
    if dup.any():
        i = first(dup)
        other = int(table.rows[first(ids == ids.iloc[i])])
        raise places.error(i, f"duplicate respondent id (also on {table.row_word} {other})", cb.respondent_id,
                           value=written[cb.respondent_id].iloc[i])
    for var in cb.variables:
        if not var.codes:
            continue
        col = df[var.variable]
        bad = col.notna() & ~col.isin(list(var.codes))
        if bad.any():
            i = first(bad)
            raise places.error(i, f"code not in codebook {cb.path.name}", var.variable, row_value=True,
                               value=written[var.variable].iloc[i])
    if cb.weight is not None:
        weight = df[cb.weight]
        bad = weight.isna() | ~np.isfinite(weight.fillna(0)) | (weight <= 0)
        if bad.any():
            i = first(bad)
            raise places.error(i, "weight is missing, zero, negative or not finite", cb.weight, row_value=True,
                               value=written[cb.weight].iloc[i])
        _check_weights(path, places, weight, written[cb.weight], cb)
    age_var = cb.by_role("age").variable
    age = df[age_var]
    lo, hi = cb.age_range
    bad = age.isna() | (age < lo) | (age > hi)
    if bad.any():
        i = first(bad)
        raise places.error(i, f"age outside the wave's range {lo}-{hi}", age_var, row_value=True,
                           value=written[age_var].iloc[i])
    fractional = age != np.floor(age)
    if fractional.any():
        i = first(fractional)
        raise places.error(i, "age is not a whole number of years", age_var, row_value=True,
                           value=written[age_var].iloc[i])


def _check_weights(path: Path, places: "_Places", weight: pd.Series, written: pd.Series, cb: Codebook) -> None:
    """The delivered weights as a whole: none below the floor, and a sum that is either the
    respondents (normalised) or the population (grossed up): ingest/config/survey_delivery.yml."""
    rules = delivery_defaults()["weights"]
    floor = rules["floor"]
    low = weight < floor
    if low.any():
        i = int(np.flatnonzero(low.to_numpy())[0])
        raise places.error(i, f"weight below the floor of {floor} (weights.floor in ingest/config/survey_delivery.yml; "
                           f"{int(low.sum())} of the {len(weight)} weights are below it)", cb.weight,
                           value=written.iloc[i])
    total, n = float(weight.sum()), len(weight)
    norm, gross = rules["sum"]["normalised"], rules["sum"]["grossed_up"]
    if not (norm["min_ratio"] * n <= total <= norm["max_ratio"] * n or gross["min"] <= total <= gross["max"]):
        raise IngestError(path, f"the weights add up to {total:.6g} over {n} respondents: neither normalised (between "
                          f"{norm['min_ratio']:g} and {norm['max_ratio']:g} times the respondents) nor grossed up to the "
                          f"population (between {gross['min']} and {gross['max']}); weights.sum in "
                          "ingest/config/survey_delivery.yml", column=cb.weight, value=total)


def _municipalities(path: Path, table: _Table, df: pd.DataFrame, ids: pd.Series, cb: Codebook) -> list[dict]:
    """Codes of the wave's boundary set, or an alias valid for its fieldwork (recorded); else an error."""
    var = cb.by_role("municipality_code").variable
    codes = df[var].map(normalise_code)
    period = cb.reference_period
    res = resolve_codes(set(codes.dropna()), cb.boundary_set, period)
    places = _Places(path, table, ids, hint=_row_status_hint(cb, table))
    if codes.isna().any():
        i = int(np.flatnonzero(codes.isna().to_numpy())[0])
        raise places.error(i, "municipality code is empty", var, row_value=True)
    if res.unknown:
        bad = codes.isin(list(res.unknown))
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise places.error(i, res.unknown[codes.iloc[i]], var, row_value=True, value=table.df[var].iloc[i])
    df[var] = codes.map(res.mapping)
    applied = []
    for a in res.applied:
        applied.append({"variable": var, "delivered_code": a.delivered_code, "applied_code": a.atvk_code,
                        "rows": int((codes == a.delivered_code).sum()), "valid_from": a.valid_from,
                        "valid_to": a.valid_to, "source": a.source})
    return applied


def _check_calendar(path: Path, cb: Codebook, clock: tuple[Path | None, str | None] = (None, None)) -> None:
    """A wave cannot be delivered before its fieldwork ended (by today's date, ``settings.today``);
    without fieldwork dates, before its year began. No constant caps the wave year."""
    now = today(clock[0] or path, clock[1])
    if cb.fieldwork:
        start, end = cb.fieldwork
        if end > now:
            raise IngestError(path, f"the wave's fieldwork ({start} to {end}, codebook {cb.path.name}) ends after "
                              f"today ({now}): a delivery from the future? Check the codebook's wave and fieldwork")
    elif cb.wave > now.year:
        raise IngestError(path, f"wave {cb.wave} (codebook {cb.path.name}) is after the current year {now.year} "
                          f"(today is {now}): a delivery from the future? Check the codebook's wave")


def _read_table(path: Path, codebook: Codebook, code_lists: list[Path] | None) -> _Table:
    fmt = codebook.delivery_format
    return {"spss": lambda: _from_spss(path, codebook), "excel": lambda: _from_excel(path, codebook),
            "csv": lambda: _from_csv(path, codebook, code_lists)}[fmt]()


def read_survey_file(path: str | Path, codebook: Codebook, code_lists: list[Path] | None = None,
                     clock: tuple[Path | None, str | None] = (None, None), part: bool = False) -> SurveyDelivery:
    """Read and check one wave file. `code_lists`: the CSV code list(s) to read (by default the files
    beside it that match the codebook's code_list_file pattern). `clock`: the file as delivered and the
    checksum of what is read, for the date it is checked against (settings.today: the sample's clock
    applies to the generator's own files). `part`: the file is one part of a wave delivered in several
    (the wave's fewest respondents are checked on the union, by the loader)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path, "the file is empty")
    _check_calendar(path, codebook, clock)
    table = _read_table(path, codebook, code_lists)
    if table.df.empty:
        raise IngestError(path, "the file has no respondents")
    _select_columns(path, table, codebook)
    excluded = _apply_row_rule(path, table, codebook)
    if table.df.empty:
        raise IngestError(path, "the file has no respondents: the codebook's row_status drops every row",
                          column=codebook.row_rule.variable)
    _check_size(path, codebook, len(table.df), "respondents", exact=not part)
    df, ids = _convert(path, table, codebook)
    _check_against_codebook(path, table, df, ids, codebook)
    aliases = _municipalities(path, table, df, ids, codebook)
    delivery = _to_delivery(path, table, df, ids, codebook)
    delivery.ignored_columns = table.ignored
    delivery.aliases_applied = aliases
    delivery.file_rows = table.rows
    delivery.excluded = excluded
    delivery.municipalities = df[codebook.by_role("municipality_code").variable].reset_index(drop=True)
    return delivery


def label_inventory(path: str | Path, codebook: Codebook, code_lists: list[Path] | None = None) -> dict[str, list]:
    """Every distinct text label of the codebook's columns, with its count, as `make validate` lists it
    (so that the engineer can write a codebook's `labels` from it): column -> [(label, rows)], most
    frequent first. Labels are shown normalised (ingest/labels.py); numbers are not labels. Rows the
    codebook's row_status drops are not counted. Columns the file lacks are left out."""
    path = Path(path)
    table = _read_table(path, codebook, code_lists)
    wanted = [v.variable for v in codebook.variables if v.role not in ("id", "weight", "age")]
    if codebook.row_rule and codebook.row_rule.variable in table.df.columns:
        try:
            _select_columns(path, table, codebook)
            _apply_row_rule(path, table, codebook)
        except IngestError:
            pass
    out = {}
    fmt = _number_format(codebook, None)
    for col in wanted:
        if col not in table.df.columns:
            continue
        texts = table.df[col].map(_cell_text).dropna()
        numbers = texts.map(lambda t: parse_number(t, fmt)[0] is not None)
        labels = texts[~numbers]
        if labels.empty:
            continue
        counts = labels.value_counts()
        out[col] = sorted(((str(k), int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    return out


def _to_delivery(path: Path, table: _Table, df: pd.DataFrame, ids: pd.Series, cb: Codebook) -> SurveyDelivery:
    id_text = ids.to_numpy()
    n = len(df)
    frames = []
    for var in df.columns:
        col = df[var]
        numeric = pd.api.types.is_numeric_dtype(col)
        frames.append(
            pd.DataFrame(
                {
                    "row_number": np.arange(1, n + 1, dtype="int64"),
                    "respondent_source_id": id_text,
                    "variable": var,
                    "value_num": col.astype("float64").to_numpy() if numeric else np.full(n, np.nan),
                    "value_text": None if numeric else col.astype("object").where(col.notna(), None).to_numpy(),
                }
            )
        )
    cells = pd.concat(frames, ignore_index=True)
    labels = table.labels
    variables = pd.DataFrame(
        {
            "variable": list(df.columns),
            "position": [table.positions.get(c) for c in df.columns],
            "label": [labels.get(c) for c in df.columns],
            "var_type": ["numeric" if pd.api.types.is_numeric_dtype(df[c]) else "string" for c in df.columns],
            "user_missing": [table.user_missing.get(c) for c in df.columns],
        }
    )
    stored = set(df.columns)
    value_labels = pd.DataFrame(
        [
            {"variable": var, "code": float(code), "label": label}
            for var, mapping in table.value_labels.items() if var in stored
            for code, label in mapping.items()
        ],
        columns=["variable", "code", "label"],
    )
    return SurveyDelivery(path, cb.wave, n, cells, variables, value_labels)


__all__ = ["SurveyDelivery", "read_survey_file", "read_spss", "shown", "label_inventory"]
