"""Read a delivered survey wave and check it against its codebook.

Returns the delivery in long form (one row per respondent x variable, the
delivered code kept as is) plus the file's own variable and value labels.
Any problem raises IngestError naming the file, the row or variable, and the
value; nothing is returned half-read.
"""
from __future__ import annotations

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


def read_survey_file(path: str | Path, codebook: Codebook) -> SurveyDelivery:
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.suffix.lower() != ".sav":
        raise IngestError(path, f"unsupported survey format {path.suffix!r}; this build reads .sav")
    df, meta = read_spss(path)
    if df.empty:
        raise IngestError(path, "the file has no respondents")
    _check_against_codebook(path, df, codebook)
    return _to_delivery(path, df, meta, codebook)


def _row(i: int) -> int:
    return int(i) + 1  # 1-based respondent row in the delivered file


def _check_against_codebook(path: Path, df: pd.DataFrame, cb: Codebook) -> None:
    missing = [v.variable for v in cb.variables if v.variable not in df.columns]
    if missing:
        raise IngestError(path, f"variables named in codebook {cb.path.name} are not in the file",
                          column=missing[0], value=missing)
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
    age_var = cb.by_role("age").variable
    age = pd.to_numeric(df[age_var], errors="coerce")
    lo, hi = cb.age_range
    bad = age.isna() | (age < lo) | (age > hi)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(path, f"age outside the wave's range {lo}-{hi}", row=_row(i), column=age_var,
                          value=df[age_var].iloc[i])


def _to_delivery(path: Path, df: pd.DataFrame, meta, cb: Codebook) -> SurveyDelivery:
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
    labels = dict(zip(meta.column_names, meta.column_labels))
    variables = pd.DataFrame(
        {
            "variable": list(df.columns),
            "position": range(1, len(df.columns) + 1),
            "label": [labels.get(c) for c in df.columns],
            "var_type": ["numeric" if pd.api.types.is_numeric_dtype(df[c]) else "string" for c in df.columns],
            "user_missing": [
                ";".join(f"{r['lo']:g}" if r["lo"] == r["hi"] else f"{r['lo']:g}-{r['hi']:g}"
                         for r in meta.missing_ranges.get(c, [])) or None
                for c in df.columns
            ],
        }
    )
    value_labels = pd.DataFrame(
        [
            {"variable": var, "code": float(code), "label": label}
            for var, mapping in meta.variable_value_labels.items()
            for code, label in mapping.items()
        ],
        columns=["variable", "code", "label"],
    )
    return SurveyDelivery(path, cb.wave, len(df), cells, variables, value_labels)
