"""Weighted proportions from survey cells: linearised variance, the Korn-Graubard interval and the
reliability flags of the NCHS Data Presentation Standards for Proportions (Parker et al. 2017,
Vital Health Stat 2(175)), as NCHS's own R package `surveytable` applies them (present_prop,
svyciprop_adjusted), and the Benjamini-Hochberg false discovery rate.

Design: the survey waves come without primary sampling units or strata, so every respondent is a
PSU of one stratum. The variance of a cell's weighted share p = sum(w y) / sum(w) is the linearised
(Taylor) variance of a ratio over the domain, with the with-replacement factor n/(n - 1) of the
wave's n respondents (R `survey`: svymean on a subset):

    v(p) = n / (n - 1) * sum_d w_i^2 (y_i - p)^2 / (sum_d w_i)^2

The NCHS effective sample size is p(1 - p) / v(p), capped at the cell's sample size, and equal to it
when p is 0 or 1. The design's degrees of freedom of a cell are its PSUs minus its strata, here
n_cell - 1; the Korn-Graubard df-adjustment multiplies the effective n by
(t(0.975, n_cell - 1) / t(0.975, df))^2, which is 1 for this design (kept so that a clustered
design plugs in). The interval is Clopper-Pearson on that effective n:
    lower = Beta^-1(0.025; n_eff p, n_eff (1 - p) + 1),  upper = Beta^-1(0.975; n_eff p + 1, n_eff (1 - p)).

NCHS decision (in this order): effective n < 30 -> unreliable; CI width <= 0.05 -> reliable;
CI width >= 0.30 -> unreliable; width / p > 1.30 -> unreliable; otherwise reliable. Reliable
estimates are flagged for statistical review when width / (1 - p) > 1.30 (the complement), when
the degrees of freedom are below 8, or when p is 0 or 1 (width taken as 0 then, as NCHS does).
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def linearised_variance(p, sum_w, sum_w2, sum_w2_y, n_design):
    """Variance of p = sum(w y)/sum(w) over a domain from its sums: sum_w2 = sum w^2 over the
    domain, sum_w2_y = sum w^2 over the domain's y = 1 (binary y)."""
    p, sum_w, sum_w2, sum_w2_y, n = (np.asarray(a, dtype=float) for a in (p, sum_w, sum_w2, sum_w2_y, n_design))
    ss = sum_w2_y * (1 - 2 * p) + p * p * sum_w2  # sum w^2 (y - p)^2
    return n / (n - 1) * np.clip(ss, 0, None) / (sum_w * sum_w)


def korn_graubard(p, n, variance, df=None, level: float = 0.95):
    """NCHS effective n (df-adjusted, capped at n) and the Korn-Graubard interval, vectorised."""
    p, n, variance = (np.asarray(a, dtype=float) for a in (p, n, variance))
    df = n - 1 if df is None else np.asarray(df, dtype=float)
    alpha = 1 - level
    extreme = (p <= 0) | (p >= 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(extreme | (variance <= 0), n, p * (1 - p) / variance)
        n_eff = np.minimum(n_eff, n)
        ratio2 = np.where(df > 0, (stats.t.ppf(alpha / 2, n - 1) / stats.t.ppf(alpha / 2, df)) ** 2, 0.0)
        n_adj = np.where(extreme, n, np.minimum(n, n_eff * ratio2))
        x = n_adj * p
        lower = np.where(p <= 0, 0.0, stats.beta.ppf(alpha / 2, x, n_adj - x + 1))
        upper = np.where(p >= 1, 1.0, stats.beta.ppf(1 - alpha / 2, x + 1, n_adj - x))
    return n_eff, lower, upper


def nchs_flags(p, n_eff, lower, upper, df, rules: dict):
    """(is_reliable, reliability_reason, needs_review, review_reason) per estimate, NCHS 2017."""
    p, n_eff, lower, upper, df = (np.asarray(a, dtype=float) for a in (p, n_eff, lower, upper, df))
    extreme = (p <= 0) | (p >= 1)
    width = np.where(extreme, 0.0, upper - lower)
    # Compared at 12 decimals: a width of exactly 0.30 must not flip with the last bits of a sum.
    width_r = np.round(width, 12)
    min_n, small, wide, rel = (rules["nchs_min_effective_n"], rules["nchs_reliable_ci_width"],
                               rules["nchs_max_ci_width"], rules["nchs_max_relative_ci_width"])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(p > 0, width / p, np.inf)
        relative_complement = np.where(p < 1, width / (1 - p), np.inf)
    low_n = np.round(n_eff, 9) < min_n
    narrow = ~low_n & (width_r <= small)
    too_wide = ~low_n & ~narrow & (width_r >= wide)
    too_relative = ~low_n & ~narrow & ~too_wide & (np.round(relative, 12) > rel)
    reliable = ~(low_n | too_wide | too_relative)
    reason = np.select([low_n, too_wide, too_relative],
                       [f"effective sample size below {min_n:g}", f"CI width {100 * wide:g} points or more",
                        f"CI width above {100 * rel:g} % of the estimate"], default="")
    complement = reliable & ~narrow & (np.round(relative_complement, 12) > rel)
    few_df = reliable & (df < rules["nchs_min_df"])
    zero_one = reliable & extreme
    texts = (f"CI width above {100 * rel:g} % of the complement (1 - estimate)",
             f"fewer than {rules['nchs_min_df']:g} degrees of freedom", "estimate of 0 or 100 %")
    review_reason = ["; ".join(t for t, f in zip(texts, flags) if f) or None
                     for flags in zip(complement, few_df, zero_one)]
    review = complement | few_df | zero_one
    return (reliable.tolist(), [r or None for r in reason.tolist()], review.tolist(), review_reason)


def round_half_up(x, decimals: int) -> np.ndarray:
    """Rounding as the published figures are rounded (macro publish_round: DuckDB's round() of the
    value first snapped to 9 decimals): half away from zero, for shares in [0, 1]."""
    x = np.round(np.asarray(x, dtype=float), 9)
    scale = 10.0 ** decimals
    return np.floor(x * scale + 0.5) / scale


def two_sided_p(z):
    z = np.abs(np.asarray(z, dtype=float))
    return stats.norm.sf(z) * 2


def benjamini_hochberg(p_values) -> np.ndarray:
    """BH-adjusted p-values (q-values), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
