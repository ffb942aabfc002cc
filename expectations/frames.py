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


def survey_wave_frames(con, years: set[int] | None = None) -> list[Frame]:
    frames = []
    waves = con.execute(
        "select wave, boundary_set, age_min, age_max from raw.survey_waves order by wave"
    ).fetchall()
    waves = [w for w in waves if years is None or w[0] in years]
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


def admin_frame(con, years: set[int] | None = None) -> Frame:
    rows = con.execute("select * from raw.admin_table_rows").df()
    if years is not None:
        rows = rows[rows["year"].isin(sorted(years))].reset_index(drop=True)
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
        data_ref="admin extracts" + (f" {min(years)}-{max(years)}" if years else ""),
        partition="all" if not years else (str(min(years)) if len(years) == 1 else f"{min(years)}-{max(years)}"),
        df=df,
        values={
            "indicator_row_numbers": sorted(known_row_numbers()),
            "municipality_codes": sorted(set().union(*(known_municipality_codes(b) for b in
                                                         ("pre2021_119", "post2021_43", "post2025_42")))),
            "latest_year": latest_allowed_year(),
            "number_columns": VALUE_COLUMNS,
        },
    )


# --- published marts ------------------------------------------------------------------------

def mart_indicator_estimates_frame(con) -> Frame:
    """The estimates, plus whether each published interval contains its estimate and whether a
    suppressed cell still carries a value."""
    df = con.execute("select * from marts.mart_indicator_estimates").df()
    has_value = df["estimate"].notna()
    df["ci_contains_estimate"] = ((df["ci_low"] <= df["estimate"] + 1e-12) & (df["estimate"] <= df["ci_high"] + 1e-12)
                                  ).where(has_value & df["ci_low"].notna(), None)
    df["suppressed_with_value"] = df["is_suppressed"] & (has_value | df["ci_low"].notna() | df["ci_high"].notna())
    return Frame(data_ref="marts.mart_indicator_estimates", partition="all", df=df)


def wave_changes_frame(con) -> Frame:
    """One row per wave and indicator (national, all respondents): respondents delivered and the
    ratio to the previous wave, and the "hard to say" share and its change since the previous wave
    that asked the item."""
    df = con.execute("""
        with waves as (
            select wave_year, n_respondents_delivered as n_respondents,
                   n_respondents_delivered / lag(n_respondents_delivered) over (order by wave_year) as respondents_ratio
            from marts.dim_wave
        ), hts as (
            select indicator_code, wave_year, estimate as hard_to_say_share,
                   estimate - lag(estimate) over (partition by indicator_code order by wave_year) as hard_to_say_change
            from marts.mart_indicator_estimates
            where measure = 'hard_to_say_share' and geo_level = 'national' and subgroup_type = 'all'
              and estimate is not null
        )
        select w.wave_year, w.n_respondents, w.respondents_ratio, h.indicator_code, h.hard_to_say_share,
               h.hard_to_say_change
        from waves w left join hts h using (wave_year)
        order by w.wave_year, h.indicator_code
    """).df()
    return Frame(data_ref="marts: wave-on-wave changes", partition="all", df=df)


def provision_frames(con) -> tuple[Frame, Frame]:
    """The per-capita mart, and one row per year: municipalities reported against the units of
    the current boundary set, and the change in row count since the previous year."""
    df = con.execute("select * from marts.mart_provision_per_capita").df()
    units = con.execute("select count(distinct current_municipality_code) from marts.dim_municipality").fetchone()[0]
    per_year = con.execute("""
        select year, count(*) as municipalities,
               count(*) / lag(count(*)) over (order by year) as rows_ratio
        from marts.mart_provision_per_capita group by year order by year
    """).df()
    per_year["missing_units"] = units - per_year["municipalities"]
    return (Frame(data_ref="marts.mart_provision_per_capita", partition="all", df=df),
            Frame(data_ref="marts.mart_provision_per_capita by year", partition="all", df=per_year))


def client_satisfaction_frame(con) -> Frame:
    df = con.execute("select * from marts.mart_client_satisfaction").df()
    shares = ["share_fully", "share_rather", "share_rather_not", "share_not_at_all", "share_hard_to_say"]
    df["share_sum_gap"] = df[shares].sum(axis=1, min_count=len(shares)) - 1.0
    return Frame(data_ref="marts.mart_client_satisfaction", partition="all", df=df, values={"shares": shares})
