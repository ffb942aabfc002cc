"""Step 2 of a wave file's path (ingest/survey): apply the codebook to the raw table.

The codebook's columns are selected (the others ignored, or refused with strict_columns), its
row_status rule drops the rows the survey firm excluded, the respondents left are counted against the
wave's expected size, and every value is converted to what the codebook means: numbers for numeric
columns, the codebook's label for a label-coded column, text for the municipality code and kept
attributes, and the municipality code as a unit of the wave's boundary set (an alias applied and
recorded). A value that cannot be converted (not a number, a label the codebook does not know) is
refused here; checks of the converted values against the codebook and the reference come next
(ingest/survey/validate.py). A wave delivered in parts is their `union` (a `Wave`), built here from
the converted parts before the wave is validated as a whole.

`label_inventory` (`make validate`) is the read step and the label part of this one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.codebook import Codebook
from ingest.errors import IngestError
from ingest.labels import label_key, normalise_label
from ingest.municipalities import Resolution, normalise_code, resolve_codes
from ingest.numbers import parse_number, parse_numbers
from ingest.survey.read import Places, RawTable, check_size, number_format, read_table


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



ROW_STATUS_HINT = ("If the survey firm excluded this row itself (a status column of its own), the codebook can say "
                   "so: row_status (docs/codebooks.md)")


def row_status_hint(cb: Codebook, table: RawTable) -> str | None:
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


def _match_labels(places: "Places", values: pd.Series, var, cb: Codebook) -> pd.Series:
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


def select_columns(path: Path, table: RawTable, cb: Codebook) -> None:
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


def apply_row_rule(path: Path, table: RawTable, cb: Codebook) -> list[dict]:
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


def _convert(path: Path, table: RawTable, cb: Codebook) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers for the numeric columns, text for the municipality code and kept attributes;
    returns the converted frame and the respondent ids as text."""
    df = table.df
    idv = cb.respondent_id
    roles = {v.variable: v.role for v in cb.variables}
    id_numbers, id_problems = parse_numbers(df[idv], number_format(cb, "code"))
    id_bad = id_problems.notna()
    numeric_ids = not id_bad.any()
    if numeric_ids:
        ids_text = id_numbers.map(lambda v: None if math.isnan(v) else
                                  (str(int(v)) if v.is_integer() else repr(v))).astype(object)
    else:  # ids with letters ("A-0012") stay text
        ids_text = _as_text(df[idv])
    places = Places(path, table, ids_text, hint=row_status_hint(cb, table))
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
            numbers, problems = parse_numbers(df[col], number_format(cb, UNIT_OF_ROLE.get(roles.get(col), "code")))
        bad = problems.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise places.error(i, problems.iloc[i], col, row_value=True, value=df[col].iloc[i])
        out[col] = numbers
    return pd.DataFrame(out, index=df.index), ids_text


def _resolve_municipalities(df: pd.DataFrame, cb: Codebook) -> tuple[pd.Series, Resolution, list[dict]]:
    """Each respondent's municipality code as a unit of the wave's boundary set: its own code, or an
    alias valid for the fieldwork (recorded). Returns the delivered codes (normalised), the resolution
    and the aliases applied; codes that are empty or unknown are refused by validation
    (ingest/survey/validate.py), which names them."""
    var = cb.by_role("municipality_code").variable
    codes = df[var].map(normalise_code)
    res = resolve_codes(set(codes.dropna()), cb.boundary_set, cb.reference_period)
    df[var] = codes.map(res.mapping)
    applied = []
    for a in res.applied:
        applied.append({"variable": var, "delivered_code": a.delivered_code, "applied_code": a.atvk_code,
                        "rows": int((codes == a.delivered_code).sum()), "valid_from": a.valid_from,
                        "valid_to": a.valid_to, "source": a.source})
    return codes, res, applied


def label_inventory(path: str | Path, codebook: Codebook, code_lists: list[Path] | None = None) -> dict[str, list]:
    """Every distinct text label of the codebook's columns, with its count, as `make validate` lists it
    (so that the engineer can write a codebook's `labels` from it): column -> [(label, rows)], most
    frequent first. Labels are shown normalised (ingest/labels.py); numbers are not labels. Rows the
    codebook's row_status drops are not counted. Columns the file lacks are left out."""
    path = Path(path)
    table = read_table(path, codebook, code_lists)
    wanted = [v.variable for v in codebook.variables if v.role not in ("id", "weight", "age")]
    if codebook.row_rule and codebook.row_rule.variable in table.df.columns:
        try:
            select_columns(path, table, codebook)
            apply_row_rule(path, table, codebook)
        except IngestError:
            pass
    out = {}
    fmt = number_format(codebook, None)
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


@dataclass
class Part:
    """One wave file with the codebook applied: the converted frame (one column per stored variable),
    the respondent ids as text, and what was done to it; the raw table keeps the places for messages."""

    path: Path
    table: RawTable
    df: pd.DataFrame
    ids: pd.Series
    excluded: list[dict]  # rows the firm's status dropped: variable, status, reason, rows
    aliases: list[dict]  # municipality codes read through an alias: variable, delivered_code, applied_code, rows, ...
    municipality_codes: pd.Series  # each respondent's municipality code as delivered (normalised)
    municipality_resolution: Resolution
    clock: tuple[Path | None, str | None] = (None, None)  # the file as delivered, the checksum read (settings.today)


def apply_codebook(path: Path, table: RawTable, cb: Codebook, clock: tuple[Path | None, str | None] = (None, None),
                   part: bool = False) -> Part:
    """The codebook applied to one read file. `clock`: the file as delivered and the checksum of what
    was read, for the date the wave is checked against (validation). `part`: the file is one part of a
    wave delivered in several (the wave's fewest respondents are checked on the union)."""
    select_columns(path, table, cb)
    excluded = apply_row_rule(path, table, cb)
    if table.df.empty:
        raise IngestError(path, "the file has no respondents: the codebook's row_status drops every row",
                          column=cb.row_rule.variable)
    check_size(path, cb, len(table.df), "respondents", exact=not part)
    df, ids = _convert(path, table, cb)
    codes, resolution, aliases = _resolve_municipalities(df, cb)
    return Part(path, table, df, ids, excluded, aliases, codes, resolution, clock)


@dataclass
class Wave:
    """The converted parts of one wave, in delivery order, as one: a wave in one file is one part.
    `delivered`: each part's file as delivered (messages name it); `in_parts`: the codebook says
    delivery.parts (the union is checked as a whole and stored as one)."""

    parts: list[Part]
    delivered: list[Path]
    in_parts: bool = False
    municipalities: pd.Series = field(default=None)  # each respondent's municipality code (after aliases)

    @property
    def n_respondents(self) -> int:
        return sum(len(p.df) for p in self.parts)


def union(parts: list[Part], delivered: list[Path], cb: Codebook, in_parts: bool) -> Wave:
    """One wave from its converted parts (respondents in part order); without `in_parts` (the codebook
    does not say delivery.parts) the wave is its first file."""
    var = cb.by_role("municipality_code").variable
    municipalities = pd.concat([p.df[var].reset_index(drop=True) for p in (parts if in_parts else parts[:1])],
                               ignore_index=True)
    return Wave(parts, list(delivered), in_parts, municipalities)


__all__ = ["Part", "Wave", "apply_codebook", "apply_row_rule", "label_inventory", "select_columns", "union"]
