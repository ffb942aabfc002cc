"""Disclosure control of the administrative person counts (LABIS/SPOLIS), before they are published
in marts.fct_service_provision. The warehouse keeps every figure (int_admin__provision) and the
per-capita marts use the true values; this model decides which breakdown cells are published.

Per delivered unit, year and indicator row, the person counts (measure = count) by sex (women, men)
and by age band add up to the row's total: two additive sets, {total; women, men} and {total; age
bands}, sharing the total.
- Primary: a count by sex or age band of 1 to `admin_min_person_count` - 1 persons (seed
  disclosure_rules; a count of 1 by sex and age in a small municipality names a person). Zero is
  published (nobody). Totals by municipality are not breakdowns and stay published: the per-capita
  marts publish them, so hiding them here would hide nothing.
- Secondary, per set: where the row's total is itself below the threshold, every breakdown cell of
  the set is withheld (each could be the whole total). Otherwise, while the set has exactly one
  withheld cell, or its withheld cells add up to less than the threshold, the smallest published
  cell with at least one person (else the smallest published cell) is withheld too: the total minus
  the published cells then leaves at least the threshold's worth of persons spread over at least
  two unknown cells, so no small count can be read off.
- A cell that is not available (X) or not reported is unknown to the reader too; it only widens
  what the difference leaves open.
The "of which" sub-rows (7.1 of 7, ...) are not additive (a person can be in several), so they are
not treated as sets. Ties are broken by the column order of the table, so the same data give the
same pattern in every build.
"""
import numpy as np
import pandas as pd

ROW_KEY = ["municipality_code", "boundary_set", "year", "row_no"]
AGE_COLUMNS = ["age_0_17", "age_18_24", "age_25_54", "age_55_64", "age_65_79", "age_80_89", "age_90_plus"]
SEX_COLUMNS = ["women", "men"]


def _protect_set(total: float, members: dict[str, float], threshold: int) -> dict[str, str]:
    """{column: 'primary' | 'complementary'} for one additive set (members: column -> value, NaN unknown)."""
    known = {c: v for c, v in members.items() if not np.isnan(v)}
    out = {c: "primary" for c, v in known.items() if 1 <= v < threshold}
    if not out:
        return out
    if not np.isnan(total) and total < threshold:
        for c in known:
            out.setdefault(c, "complementary")
        return out
    order = list(members)
    while True:
        hidden = sum(known[c] for c in out)
        if len(out) >= 2 and hidden >= threshold:
            return out
        visible = [c for c in known if c not in out]
        if not visible:
            return out
        with_people = [c for c in visible if known[c] >= 1]
        pick = min(with_people or visible, key=lambda c: (known[c], order.index(c)))
        out[pick] = "complementary"


def protect(provision: pd.DataFrame, threshold: int) -> pd.DataFrame:
    counts = provision[provision["measure"] == "count"]
    wide = counts.pivot_table(index=ROW_KEY, columns="source_column", values="value", aggfunc="first", dropna=False)
    wide = wide.reindex(columns=["total", *SEX_COLUMNS, *AGE_COLUMNS])
    breakdown = wide[SEX_COLUMNS + AGE_COLUMNS].to_numpy(dtype=float)
    todo = np.flatnonzero(((breakdown >= 1) & (breakdown < threshold)).any(axis=1))
    decisions = []
    for i in todo:
        row = wide.iloc[i]
        key = wide.index[i]
        for columns in (SEX_COLUMNS, AGE_COLUMNS):
            for column, rule in _protect_set(float(row["total"]), {c: float(row[c]) for c in columns}, threshold).items():
                decisions.append((*key, column, rule))
    rules = pd.DataFrame(decisions, columns=ROW_KEY + ["source_column", "suppression_rule"])
    out = provision.merge(rules, on=ROW_KEY + ["source_column"], how="left")
    out["is_suppressed"] = out["suppression_rule"].notna()
    out["suppression_rule"] = out["suppression_rule"].astype(object).where(out["is_suppressed"], None)
    return out.sort_values(ROW_KEY + ["source_column"], kind="stable", ignore_index=True)


def model(dbt, session):
    dbt.config(materialized="table")
    provision = dbt.ref("int_admin__provision").df()
    rule_rows = dbt.ref("disclosure_rules").df()
    threshold = int(dict(zip(rule_rows["rule"], rule_rows["value"]))["admin_min_person_count"])
    return protect(provision, threshold)
