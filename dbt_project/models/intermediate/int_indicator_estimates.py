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

What is published of the interval (columns published_*): a cell with at least
`exact_interval_min_n` respondents asked publishes the interval and flags above. A smaller cell
publishes an interval that its published figures alone determine, so that it cannot be inverted for
the cell's sample size (issue 20: rounded exact intervals pinned the effective n of half the small
cells to +-1): the Korn-Graubard interval of its published share (rounded to whole percentage
points, widened by the half percentage point the rounding may have moved it) at the effective
sample size n_pub = (lower end of its respondent band) / R, where R is the largest ratio of
respondents asked to Kish effective n over the cells of its indicator and wave with at least
`min_unweighted_n` respondents. Since a cell's own n_asked / n_eff is at most R and its n_asked at
least the band's lower end, n_pub does not exceed its Kish effective n: the published interval is
the wider one. Its NCHS flags are computed on it (n_pub as the effective n), and its variance for
the changes and gaps is the one the published interval implies.
"""
import numpy as np
import pandas as pd

from estimation.proportions import korn_graubard, linearised_variance, nchs_flags, round_half_up

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


def band_low(n, bands: list[tuple[int, float]]) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    out = np.full(len(n), np.nan)
    for low, high in bands:
        out[(n >= low) & (n <= high)] = low
    return out


def published_intervals(result: pd.DataFrame, cells: pd.DataFrame, bands: list, rules: dict) -> pd.DataFrame:
    """The published_* columns (module docstring): band-based for small cells, exact otherwise."""
    z = rules["z_95"]
    c = cells.set_index(KEY)
    res = result.join(c[["n_asked", "sum_w", "sum_w2"]], on=KEY)
    kish = res["sum_w"] ** 2 / res["sum_w2"]
    eligible = (res["measure"] == "share_incl_hard_to_say") & (res["n_asked"] >= rules["min_unweighted_n"])
    ratio = (res["n_asked"] / kish).where(eligible)
    r_max = ratio.groupby([res["indicator_code"], res["wave_year"]]).transform("max")
    small = res["n_asked"] < rules["exact_interval_min_n"]
    n_pub = band_low(res["n_asked"], bands) / r_max.to_numpy()
    p_r = round_half_up(res["estimate"].to_numpy(dtype=float), int(rules["publish_decimals"]))
    half_step = 0.5 * 10 ** -int(rules["publish_decimals"])
    p_lo, p_hi = np.clip(p_r - half_step, 0, 1), np.clip(p_r + half_step, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        _, lo, _ = korn_graubard(p_lo, n_pub, p_lo * (1 - p_lo) / n_pub, n_pub - 1, level=rules["confidence_level"])
        _, _, hi = korn_graubard(p_hi, n_pub, p_hi * (1 - p_hi) / n_pub, n_pub - 1, level=rules["confidence_level"])
    use = small.to_numpy() & np.isfinite(n_pub) & (n_pub >= 1)
    out = result.copy()
    out["ci_basis"] = np.where(use, "band", "cell")
    out["published_n_effective"] = np.where(use, n_pub, out["n_effective"])
    out["published_ci_low"] = np.where(use, lo, out["ci_low"])
    out["published_ci_high"] = np.where(use, hi, out["ci_high"])
    out["published_variance"] = np.where(use, ((hi - lo) / (2 * z)) ** 2, out["variance"])
    df = np.where(use, n_pub - 1, out["design_df"])
    reliable, reason, review, review_reason = nchs_flags(out["estimate"], out["published_n_effective"],
                                                         out["published_ci_low"], out["published_ci_high"], df, rules)
    out["published_is_reliable"] = reliable
    out["published_reliability_reason"] = pd.Series(reason, index=out.index, dtype=object)
    out["published_needs_review"] = review
    out["published_review_reason"] = pd.Series(review_reason, index=out.index, dtype=object)
    return out


def model(dbt, session):
    dbt.config(materialized="table")
    cells = dbt.ref("int_indicator_cells").df().sort_values(KEY, kind="stable", ignore_index=True)
    rule_rows = dbt.ref("disclosure_rules").df()
    rules = dict(zip(rule_rows["rule"], rule_rows["value"].astype(float)))
    band_rows = dbt.ref("publication_bands").df()
    bands = [(int(r.band_low), float("inf") if pd.isna(r.band_high) else int(r.band_high))
             for r in band_rows.itertuples()]
    return published_intervals(estimates(cells, rules), cells, bands, rules)
