"""Step 4 of a wave file's path (ingest/survey): write the validated wave into the warehouse.

The wave in long form (`SurveyDelivery`: one row per respondent x stored variable, the value as
the codebook step converted it), with the file's variable and value labels and the codebook's
variables and values, replaces what the wave held in the raw tables, in one transaction. The audit
row and notes of the load are written by the caller's `audit` inside the same transaction
(ingest/warehouse.py keeps the audit, shared with the admin extracts).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.codebook import Codebook, delivery_defaults
from ingest.faults import checkpoint
from ingest.survey.apply_codebook import Part, Wave


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


def _to_delivery(part: Part, cb: Codebook) -> SurveyDelivery:
    """One converted part in long form (one row per respondent x stored variable), with its labels."""
    path, table, df, ids = part.path, part.table, part.df, part.ids
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
    delivery = SurveyDelivery(path, cb.wave, n, cells, variables, value_labels)
    delivery.ignored_columns = table.ignored
    delivery.aliases_applied = part.aliases
    delivery.file_rows = table.rows
    delivery.excluded = part.excluded
    delivery.municipalities = df[cb.by_role("municipality_code").variable].reset_index(drop=True)
    return delivery


def _stored(wave: Wave, cb: Codebook) -> SurveyDelivery:
    """What is stored of the wave: its one file, or the union of its parts (codebook delivery.parts),
    rows numbered on through the parts."""
    parts = [_to_delivery(p, cb) for p in wave.parts]
    if not wave.in_parts:
        return parts[0]
    delivered = wave.delivered
    n = sum(p.n_respondents for p in parts)
    offset, cells = 0, []
    for p in parts:
        cells.append(p.cells.assign(row_number=p.cells["row_number"] + offset))
        offset += p.n_respondents
    labels = pd.concat([p.value_labels for p in parts], ignore_index=True).drop_duplicates(["variable", "code"])
    out = SurveyDelivery(delivered[0], cb.wave, n, pd.concat(cells, ignore_index=True), parts[0].variables, labels)
    out.ignored_columns = [dict(c, column=c["column"]) for p in parts for c in p.ignored_columns]
    out.ignored_columns = list({(c["column"], c["position"]): c for c in out.ignored_columns}.values())
    out.aliases_applied = _merge_aliases([a for p in parts for a in p.aliases_applied])
    out.excluded = [dict(e, file=d.name) for p, d in zip(parts, delivered) for e in p.excluded]
    out.municipalities = pd.concat([p.municipalities for p in parts], ignore_index=True)
    return out


def _merge_aliases(aliases: list[dict]) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for a in aliases:
        k = (a["variable"], a["delivered_code"], a["applied_code"])
        if k in merged:
            merged[k] = dict(merged[k], rows=merged[k]["rows"] + a["rows"])
        else:
            merged[k] = dict(a)
    return list(merged.values())


def write_wave(con, wave: Wave, cb: Codebook, coverage: dict, *, source_file: str, sha256: str,
               audit: Callable[[str, SurveyDelivery], None]) -> SurveyDelivery:
    """The validated wave into the raw tables in one transaction that replaces what the wave held
    before: its row, cells, variables, value labels and its codebook's variables and values. `audit`
    records the load (audit.file_loads and what was done to the delivery) inside the same transaction.
    Returns what was stored."""
    delivery = _stored(wave, cb)
    load_id = str(uuid.uuid4())
    cells = delivery.cells.assign(wave=cb.wave, load_id=load_id)
    variables = delivery.variables.assign(wave=cb.wave, load_id=load_id)
    value_labels = delivery.value_labels.assign(wave=cb.wave, load_id=load_id)
    cb_vars = pd.DataFrame(cb.variable_rows(), columns=["wave", "source_variable", "role", "item_code",
                                                         "blank_reason", "label_lv", "label_en", "scale_code"])
    cb_vals = pd.DataFrame(cb.value_rows(), columns=["wave", "source_variable", "source_code", "source_label",
                                                     "harmonised_value", "missing_reason"])
    cb_vals["source_code"] = cb_vals["source_code"].astype("float64")
    cb_vals["source_label"] = cb_vals["source_label"].astype(object)
    wave_row = pd.DataFrame([{
        "wave": cb.wave, "load_id": load_id, "source_file": source_file, "sha256": sha256, "scope": cb.scope,
        "delivery_format": cb.delivery_format, "boundary_set": cb.boundary_set, "age_min": cb.age_range[0],
        "age_max": cb.age_range[1], "n_respondents": delivery.n_respondents, "has_weight": cb.weight is not None,
        "title_lv": cb.title_lv, "title_en": cb.title_en, "codebook_file": cb.path.name,
        "coverage_plan": coverage["plan"], "planned_municipalities": coverage["planned"],
        "municipalities_with_respondents": coverage["municipalities"], "regions_with_respondents": coverage["regions"],
        "n_parts": len(wave.parts),
    }])
    con.execute("begin transaction")
    try:
        for table, frame in (
            ("survey_waves", wave_row), ("survey_cells", cells), ("survey_variables", variables),
            ("survey_value_labels", value_labels), ("codebook_variables", cb_vars), ("codebook_values", cb_vals),
        ):
            con.execute(f"delete from raw.{table} where wave = ?", [cb.wave])
            con.register("_frame", frame)
            cols = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
            con.execute(f"insert into raw.{table} ({', '.join(cols)}) select {', '.join(cols)} from _frame")
            con.unregister("_frame")
        audit(load_id, delivery)
        checkpoint("survey:in-transaction")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return delivery


__all__ = ["SurveyDelivery", "write_wave"]
