"""Read a delivered survey wave and check it against its codebook.

Returns the delivery in long form (one row per respondent x variable, the
delivered code kept as is) plus the file's own variable and value labels.
Any problem raises IngestError naming the file, the row or variable, and the
value; nothing is returned half-read.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from ingest.codebook import Codebook
from ingest.errors import IngestError


@dataclass
class SurveyDelivery:
    path: Path
    wave: int
    n_respondents: int
    cells: pd.DataFrame  # row_number, respondent_source_id, variable, value_num, value_text
    variables: pd.DataFrame  # variable, position, label, var_type, user_missing
    value_labels: pd.DataFrame  # variable, code, label


def read_spss(path: Path) -> tuple[pd.DataFrame, pyreadstat.metadata_container]:
    try:
        return pyreadstat.read_sav(str(path), user_missing=True, apply_value_formats=False)
    except Exception as exc:  # pyreadstat raises its own types for truncated/foreign files
        raise IngestError(path, f"cannot be read as SPSS .sav: {exc}") from None


@dataclass
class _Table:
    """A delivered table before checks: data, variable labels, value labels, user-missing codes."""

    df: pd.DataFrame
    labels: dict[str, str]
    value_labels: dict[str, dict[float, str]]
    user_missing: dict[str, str]
    first_data_row: int  # file row of the first respondent (for error messages)


def _from_spss(path: Path) -> _Table:
    df, meta = read_spss(path)
    missing = {
        c: ";".join(f"{r['lo']:g}" if r["lo"] == r["hi"] else f"{r['lo']:g}-{r['hi']:g}" for r in ranges)
        for c, ranges in meta.missing_ranges.items()
    }
    return _Table(df, dict(zip(meta.column_names, meta.column_labels)),
                  {v: {float(k): lab for k, lab in m.items()} for v, m in meta.variable_value_labels.items()},
                  missing, 1)


def _numeric(path: Path, df: pd.DataFrame, keep_text: set[str], first_row: int, decimal: str = ".") -> pd.DataFrame:
    """Coded and numeric columns to numbers; anything else there is an error naming its place."""
    out = df.copy()
    for col in df.columns:
        if col in keep_text:
            out[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                   or str(v).strip() == "" else str(v).strip())
            continue
        text = df[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
        text = text.where(text != "", None)
        if decimal != ".":
            text = text.map(lambda v: v.replace(decimal, ".") if isinstance(v, str) else v)
        numbers = pd.to_numeric(text, errors="coerce")
        bad = text.notna() & numbers.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise IngestError(path, "not a number", row=first_row + i, column=col, value=df[col].iloc[i])
        out[col] = numbers.astype("float64")
    return out


def _from_excel(path: Path, cb: Codebook) -> _Table:
    d = cb.delivery
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, header=0)
    except Exception as exc:
        raise IngestError(path, f"cannot be read as an .xlsx workbook: {exc}") from None
    sheet = d.get("sheet") or next(iter(sheets))
    if sheet not in sheets:
        raise IngestError(path, f"no sheet {sheet!r}; the workbook has {list(sheets)}")
    raw = sheets[sheet]
    names, labels = [], {}
    for header in raw.columns:
        text = str(header).strip()
        if d.get("header") == "code_prefix":
            var, _, label = text.partition(". ")
        else:
            var, label = text, text
        names.append(var.strip())
        labels[var.strip()] = label.strip() or text
    raw.columns = names
    value_labels: dict[str, dict[float, str]] = {}
    for other, frame in sheets.items():
        if other != sheet and {"Mainīgais", "Kods", "Nozīme"} <= set(frame.columns):
            for _, r in frame.dropna(subset=["Kods"]).iterrows():
                value_labels.setdefault(str(r["Mainīgais"]).strip(), {})[float(r["Kods"])] = str(r["Nozīme"])
    text_cols = {cb.by_role("municipality_code").variable}
    return _Table(_numeric(path, raw, text_cols, first_row=2), labels, value_labels, {}, 2)


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if encoding.replace("-", "").lower() not in ("utf8", "utf8sig"):
        try:
            as_utf8 = data.decode("utf-8")
            if any(ord(ch) > 127 for ch in as_utf8):
                raise IngestError(path, f"the file is UTF-8 encoded, but its codebook says {encoding}; "
                                  "re-export it or correct delivery.encoding")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(path, f"not valid {encoding}: byte 0x{data[exc.start]:02x} cannot be decoded",
                          row=line) from None


def _from_csv(path: Path, cb: Codebook) -> _Table:
    d = cb.delivery
    encoding, sep, decimal = d.get("encoding", "utf-8"), d.get("delimiter", ","), d.get("decimal", ".")
    text = _decode(path, encoding)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise IngestError(path, f"cannot be parsed as {sep!r}-separated CSV: {exc}") from None
    if raw.shape[1] < 2:
        raise IngestError(path, f"one column only: is the separator really {sep!r}?", value=list(raw.columns))
    labels, value_labels = {c: c for c in raw.columns}, {}
    pattern = d.get("code_list_file")
    if pattern:
        lists = sorted(path.parent.glob(pattern))
        if not lists:
            raise IngestError(path, f"code list {pattern!r} named by codebook {cb.path.name} is not beside the file")
        codes = pd.read_csv(io.StringIO(_decode(lists[0], encoding)), sep=sep, dtype=str, keep_default_na=False)
        for _, r in codes.iterrows():
            if r["kods"] == "":
                labels[r["mainigais"]] = r["nozime"]
            else:
                value_labels.setdefault(r["mainigais"], {})[float(r["kods"].replace(decimal, "."))] = r["nozime"]
    text_cols = {cb.by_role("municipality_code").variable}
    return _Table(_numeric(path, raw, text_cols, first_row=2, decimal=decimal), labels, value_labels, {}, 2)


def read_survey_file(path: str | Path, codebook: Codebook) -> SurveyDelivery:
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path, "the file is empty")
    fmt = codebook.delivery_format
    table = {"spss": lambda: _from_spss(path), "excel": lambda: _from_excel(path, codebook),
             "csv": lambda: _from_csv(path, codebook)}[fmt]()
    if table.df.empty:
        raise IngestError(path, "the file has no respondents")
    _check_against_codebook(path, table.df, codebook, table.first_data_row)
    return _to_delivery(path, table, codebook)


def _check_against_codebook(path: Path, df: pd.DataFrame, cb: Codebook, first_row: int = 1) -> None:
    def _row(i) -> int:
        return first_row + int(i)  # the respondent's row in the delivered file

    missing = [v.variable for v in cb.variables if v.variable not in df.columns]
    if missing:
        raise IngestError(path, f"variables named in codebook {cb.path.name} are not in the file",
                          column=missing[0], value=missing)
    known = {v.variable for v in cb.variables} | set(cb.delivery.get("extra_columns") or [])
    extra = [c for c in df.columns if c not in known]
    if extra:
        raise IngestError(path, f"columns not in codebook {cb.path.name}: add them to the codebook (or to "
                          "delivery.extra_columns if they are not used) before loading", column=extra[0], value=extra)
    ids = df[cb.respondent_id]
    if ids.isna().any():
        raise IngestError(path, "respondent id is empty", row=_row(np.flatnonzero(ids.isna())[0]),
                          column=cb.respondent_id)
    dup = ids.duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise IngestError(path, "duplicate respondent id", row=_row(i), column=cb.respondent_id, value=ids.iloc[i])
    for var in cb.variables:
        if not var.codes:
            continue
        col = df[var.variable]
        bad = col.notna() & ~col.isin(list(var.codes))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise IngestError(path, f"code not in codebook {cb.path.name}", row=_row(i),
                              column=var.variable, value=col.iloc[i])
    if cb.weight is not None:
        weight = pd.to_numeric(df[cb.weight], errors="coerce")
        bad = weight.isna() | (weight <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise IngestError(path, "weight is missing, zero or negative", row=_row(i), column=cb.weight,
                              value=df[cb.weight].iloc[i])
    age_var = cb.by_role("age").variable
    age = pd.to_numeric(df[age_var], errors="coerce")
    lo, hi = cb.age_range
    bad = age.isna() | (age < lo) | (age > hi)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(path, f"age outside the wave's range {lo}-{hi}", row=_row(i), column=age_var,
                          value=df[age_var].iloc[i])


def _to_delivery(path: Path, table: _Table, cb: Codebook) -> SurveyDelivery:
    df = table.df
    ids = df[cb.respondent_id]
    id_text = ids.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    frames = []
    for var in df.columns:
        col = df[var]
        numeric = pd.api.types.is_numeric_dtype(col)
        frames.append(
            pd.DataFrame(
                {
                    "row_number": np.arange(1, len(df) + 1, dtype="int64"),
                    "respondent_source_id": id_text.to_numpy(),
                    "variable": var,
                    "value_num": col.astype("float64").to_numpy() if numeric else np.full(len(df), np.nan),
                    "value_text": None if numeric else col.astype("object").where(col.notna(), None).to_numpy(),
                }
            )
        )
    cells = pd.concat(frames, ignore_index=True)
    labels = table.labels
    variables = pd.DataFrame(
        {
            "variable": list(df.columns),
            "position": range(1, len(df.columns) + 1),
            "label": [labels.get(c) for c in df.columns],
            "var_type": ["numeric" if pd.api.types.is_numeric_dtype(df[c]) else "string" for c in df.columns],
            "user_missing": [table.user_missing.get(c) for c in df.columns],
        }
    )
    value_labels = pd.DataFrame(
        [
            {"variable": var, "code": float(code), "label": label}
            for var, mapping in table.value_labels.items()
            for code, label in mapping.items()
        ],
        columns=["variable", "code", "label"],
    )
    return SurveyDelivery(path, cb.wave, len(df), cells, variables, value_labels)
