"""The DataFrames the suites validate, read from the warehouse's raw tables."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ingest.readers.admin_table import AGE_COLUMNS, VALUE_COLUMNS, is_not_available, known_row_numbers, parse_number
from ingest.settings import latest_allowed_year
from ingest.warehouse import known_municipality_codes
ASKED_REASONS = (None, "hard_to_say")  # answers that count as "asked and answered"


@dataclass
class Frame:
    """A frame to validate and what the suite's `for:` selectors and `$names` resolve to."""

    data_ref: str  # e.g. "survey wave 2017", "admin extracts"
    partition: str
    df: pd.DataFrame
    roles: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    column_values: dict[str, dict[str, object]] = field(default_factory=dict)


def survey_wave_frames(con) -> list[Frame]:
    frames = []
    waves = con.execute(
        "select wave, boundary_set, age_min, age_max from raw.survey_waves order by wave"
    ).fetchall()
    for wave, boundary_set, age_min, age_max in waves:
        cells = con.execute(
            "select row_number, variable, value_num, value_text from raw.survey_cells where wave = ?", [wave]
        ).df()
        var_types = dict(con.execute(
            "select variable, var_type from raw.survey_variables where wave = ?", [wave]).fetchall())
        numbers = cells.pivot(index="row_number", columns="variable", values="value_num").sort_index()
        texts = cells.pivot(index="row_number", columns="variable", values="value_text").sort_index()
        df = pd.DataFrame({v: texts[v] if var_types.get(v) == "string" else numbers[v] for v in numbers.columns})
        cb_vars = con.execute(
            "select source_variable, role, item_code from raw.codebook_variables where wave = ?", [wave]
        ).df()
        cb_vals = con.execute(
            "select source_variable, source_code, harmonised_value, missing_reason "
            "from raw.codebook_values where wave = ?", [wave]
        ).df()
        roles: dict[str, list[str]] = {r: cb_vars.loc[cb_vars.role == r, "source_variable"].tolist()
                                       for r in cb_vars.role.unique()}
        column_values: dict[str, dict] = {}
        for var, codes in cb_vals.groupby("source_variable"):
            column_values[var] = {"codes": sorted(codes["source_code"].tolist())}
        items_asked = []
        for var in roles.get("item", []):
            codes = cb_vals[cb_vals.source_variable == var]
            asked = codes[codes["missing_reason"].isna() | (codes["missing_reason"] == "hard_to_say")]
            col = f"{var}__asked"
            df[col] = df[var].where(df[var].isin(asked["source_code"]), np.nan)
            column_values[col] = {"substantive_codes": sorted(codes.loc[codes.harmonised_value.notna(), "source_code"])}
            items_asked.append(col)
        roles["coded_variables"] = sorted(column_values.keys() - set(items_asked))
        roles["items_asked"] = items_asked
        frames.append(
            Frame(
                data_ref=f"survey wave {wave}",
                partition=str(wave),
                df=df.reset_index(drop=True),
                roles=roles,
                values={"age_min": age_min, "age_max": age_max,
                        "municipality_codes": sorted(known_municipality_codes(boundary_set))},
                column_values=column_values,
            )
        )
    return frames


def admin_frame(con) -> Frame:
    rows = con.execute("select * from raw.admin_table_rows").df()
    df = rows[["municipality_code", "year", "row_no", "source_file", "excel_row"]].copy()
    unparseable = pd.Series(0, index=rows.index)
    for col in VALUE_COLUMNS:
        texts = rows[col]
        parsed = texts.map(parse_number)
        df[col] = parsed.astype("float64")
        bad = texts.notna() & parsed.isna() & ~texts.map(is_not_available)
        unparseable += bad.astype(int)
    df["unparseable_cells"] = unparseable
    df["sex_sum_gap"] = df["total"] - df["women"] - df["men"]  # NaN unless all three are numbers
    # Age bands: X counts as "not applicable" (0); any empty or text band means no check.
    ages_ok = pd.concat(
        [rows[c].map(lambda t: parse_number(t) is not None or is_not_available(t)) for c in AGE_COLUMNS], axis=1
    ).all(axis=1)
    any_age_number = df[AGE_COLUMNS].notna().any(axis=1)
    age_sum = df[AGE_COLUMNS].fillna(0).sum(axis=1)
    df["age_sum_gap"] = (df["total"] - age_sum).where(ages_ok & any_age_number & df["total"].notna())
    return Frame(
        data_ref="admin extracts",
        partition="all",
        df=df,
        values={
            "indicator_row_numbers": sorted(known_row_numbers()),
            "municipality_codes": sorted(set().union(*(known_municipality_codes(b) for b in
                                                         ("pre2021_119", "post2021_43", "post2025_42")))),
            "latest_year": latest_allowed_year(),
            "number_columns": VALUE_COLUMNS,
        },
    )
