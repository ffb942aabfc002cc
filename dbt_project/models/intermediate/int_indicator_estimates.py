"""Exact estimates per indicator cell and measure, before disclosure control (never published as
they are: mart_indicator_estimates publishes them rounded, banded and protected).

Measures of a cell (weighted shares; who is in the denominator):
  share_all_asked         numerator / all asked, incl. "hard to say" and refusals
  share_incl_hard_to_say  numerator / all asked who answered or said "hard to say" (refusals out;
                          the 2017 report's convention)
  share_with_opinion      numerator / those with an opinion ("hard to say" and refusals out)
  hard_to_say_share       "hard to say" / all asked who answered or said "hard to say"

Per measure: its base n, the linearised variance, the NCHS effective n, the Korn-Graubard 95 %
interval with the design's degrees of freedom, and the NCHS reliability and review flags
(estimation/proportions.py), plus the Kish design effect of the weights (for analysts in the
warehouse only).
"""
import numpy as np
import pandas as pd

from estimation.proportions import korn_graubard, linearised_variance, nchs_flags

KEY = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]

# measure -> (share column, base n column, sum w over the base, sum w^2 over the base,
#             sum w^2 over the base's y = 1)
MEASURES = {
    "share_all_asked": ("share_all_asked", "n_asked", "sum_w_asked", "sum_w2_asked", "sum_w2_numerator"),
    "share_incl_hard_to_say": ("share_incl_hard_to_say", "n_unweighted", "sum_w", "sum_w2", "sum_w2_numerator"),
    "share_with_opinion": ("share_with_opinion", "n_with_opinion", "sum_w_opinion", "sum_w2_opinion", "sum_w2_numerator"),
    "hard_to_say_share": ("hard_to_say_share", "n_unweighted", "sum_w", "sum_w2", "sum_w2_hard_to_say"),
}
# numerator count of each measure (for the 0/100 % rule and the equal-weight count rule)
NUMERATOR_N = {"share_all_asked": "n_numerator", "share_incl_hard_to_say": "n_numerator",
               "share_with_opinion": "n_numerator", "hard_to_say_share": "n_hard_to_say"}


def estimates(cells: pd.DataFrame, rules: dict) -> pd.DataFrame:
    out = []
    for measure, (share, n_col, sw, sw2, sw2y) in MEASURES.items():
        c = cells[cells[n_col] > 0]
        p = c[share].to_numpy(dtype=float)
        n = c[n_col].to_numpy(dtype=float)
        v = linearised_variance(p, c[sw], c[sw2], c[sw2y], c["n_design"])
        df = n - 1  # PSUs minus strata of the cell: every respondent a PSU, one stratum
        n_eff, lower, upper = korn_graubard(p, n, v, df, level=rules["confidence_level"])
        reliable, reason, review, review_reason = nchs_flags(p, n_eff, lower, upper, df, rules)
        frame = c[KEY + ["weight_source"]].copy()
        frame["measure"] = measure
        frame["estimate"] = p
        frame["n_base"] = c[n_col].astype(int).to_numpy()
        frame["n_numerator"] = c[NUMERATOR_N[measure]].astype(int).to_numpy()
        frame["variance"] = v
        frame["n_effective"] = n_eff
        frame["design_df"] = df
        frame["kish_design_effect"] = (n * c[sw2] / (c[sw] * c[sw])).to_numpy(dtype=float)
        frame["ci_low"] = lower
        frame["ci_high"] = upper
        frame["is_reliable"] = reliable
        frame["reliability_reason"] = pd.Series(reason, index=frame.index, dtype=object)
        frame["needs_review"] = review
        frame["review_reason"] = pd.Series(review_reason, index=frame.index, dtype=object)
        out.append(frame)
    result = pd.concat(out, ignore_index=True)
    result["ci_method"] = ("Korn-Graubard (Clopper-Pearson on the NCHS effective sample size, design df "
                           "adjustment), 95 %")
    return result


def model(dbt, session):
    dbt.config(materialized="table")
    cells = dbt.ref("int_indicator_cells").df()
    rule_rows = dbt.ref("disclosure_rules").df()
    rules = dict(zip(rule_rows["rule"], rule_rows["value"].astype(float)))
    return estimates(cells, rules)
