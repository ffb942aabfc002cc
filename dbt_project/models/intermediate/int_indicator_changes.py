"""Changes between waves, before rounding: for every published estimate, the difference from the
same cell and measure in the previous wave that ASKED the indicator's item (int_item_waves), whether
or not that wave's cell is published. A pair is kept only when both cells and measures are published
(a change against a suppressed value would disclose it); a wave that did not ask the item is skipped,
never compared as a zero.

Difference of two independent samples: standard error sqrt(v_from + v_to) from the linearised
variances (int_indicator_estimates), 95 % normal interval, two-sided p-value, and the
Benjamini-Hochberg false discovery rate controlled at `fdr_q` within each family of one wave pair
(wave_from, wave_to) and one geography level, over all indicators, subgroups and measures tested
there.

Both ends carry their NCHS reliability. A change is TESTED only where both estimates are reliable:
an unreliable estimate's variance is itself too uncertain to judge a difference by (NCHS 2017), so a
change with an unreliable end is never called significant, gets no p- or q-value, is not counted in
the family, and says why (`significance_note`).
"""
import numpy as np
import pandas as pd

from estimation.proportions import benjamini_hochberg, two_sided_p

KEY = ["indicator_code", "geo_level", "geo_code", "subgroup_type", "subgroup_value", "measure"]


CELL = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]
PAIR = ("share_with_opinion", "hard_to_say_share")
MEASURES = ("share_all_asked", "share_incl_hard_to_say") + PAIR


def row_status(cells: pd.DataFrame) -> pd.DataFrame:
    """Whether each (cell, measure) is published, as mart_indicator_estimates decides it: the cell is
    not suppressed and publishes the measure (all four from its band, else share_incl_hard_to_say)."""
    rows = []
    for measure in MEASURES:
        s = cells[CELL].copy()
        s["measure"] = measure
        # share_incl_hard_to_say is published by every cell that is not suppressed (a Series, not the
        # bare True: ~True is -2, which marked every such row suppressed and left the mart without them)
        published_measure = (cells["publishes_all_measures"].astype(bool) if measure != "share_incl_hard_to_say"
                             else pd.Series(True, index=cells.index))
        s["is_suppressed"] = cells["is_suppressed"].astype(bool) | ~published_measure
        rows.append(s)
    return pd.concat(rows, ignore_index=True)


def previous_asked_wave(asked: pd.DataFrame) -> pd.DataFrame:
    """(indicator_code, wave_to, wave_from) with wave_from the latest earlier wave asking the item."""
    rows = []
    for ind, g in asked.groupby("indicator_code"):
        waves = sorted(g["wave_year"].astype(int))
        rows += [(ind, later, earlier) for earlier, later in zip(waves, waves[1:])]
    return pd.DataFrame(rows, columns=["indicator_code", "wave_to", "wave_from"])


def changes(estimates: pd.DataFrame, published: pd.DataFrame, asked: pd.DataFrame, rules: dict) -> pd.DataFrame:
    est = estimates.merge(published, on=KEY + ["wave_year"])
    est = est[~est["is_suppressed"]]
    pairs = previous_asked_wave(asked)
    later = est.rename(columns={"wave_year": "wave_to", "estimate": "p_to", "variance": "v_to",
                                "is_reliable": "is_reliable_to"})
    earlier = est.rename(columns={"wave_year": "wave_from", "estimate": "p_from", "variance": "v_from",
                                  "is_reliable": "is_reliable_from"})
    out = (later[KEY + ["wave_to", "p_to", "v_to", "is_reliable_to"]]
           .merge(pairs, on=["indicator_code", "wave_to"])
           .merge(earlier[KEY + ["wave_from", "p_from", "v_from", "is_reliable_from"]], on=KEY + ["wave_from"]))
    out["is_reliable_from"] = out["is_reliable_from"].astype(bool)
    out["is_reliable_to"] = out["is_reliable_to"].astype(bool)
    tested = out["is_reliable_from"] & out["is_reliable_to"]
    out["difference"] = out["p_to"] - out["p_from"]
    out["standard_error"] = np.sqrt(out["v_from"] + out["v_to"])
    z = rules["z_95"]
    out["difference_ci_low"] = out["difference"] - z * out["standard_error"]
    out["difference_ci_high"] = out["difference"] + z * out["standard_error"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["p_value"] = np.where(out["standard_error"] > 0,
                                  two_sided_p(out["difference"] / out["standard_error"]),
                                  np.where(out["difference"] == 0, 1.0, 0.0))
    out.loc[~tested, "p_value"] = np.nan
    out["q_value"] = np.nan
    for _, idx in out[tested].groupby(["wave_from", "wave_to", "geo_level"]).groups.items():
        out.loc[idx, "q_value"] = benjamini_hochberg(out.loc[idx, "p_value"].to_numpy())
    out["family_size"] = out.groupby(["wave_from", "wave_to", "geo_level"])["p_value"].transform("count").astype(int)
    out["is_significant"] = (out["q_value"] <= rules["fdr_q"]).fillna(False).astype(bool) & tested
    out["is_significant_unadjusted"] = (out["p_value"] < 1 - rules["confidence_level"]).fillna(False).astype(bool)
    out["significance_note"] = np.where(tested, None, "not tested: an estimate is unreliable")
    return out.drop(columns=["p_to", "p_from", "v_to", "v_from"])


def model(dbt, session):
    dbt.config(materialized="table")
    # the variance and reliability of what is PUBLISHED (a small cell's band-based interval): a change
    # must not reveal more about a cell than the cell's own published figures do
    published_estimates = dbt.ref("int_indicator_estimates").df()
    estimates = published_estimates[KEY + ["wave_year", "estimate", "published_variance", "published_is_reliable"]]
    estimates = estimates.rename(columns={"published_variance": "variance", "published_is_reliable": "is_reliable"})
    published = row_status(dbt.ref("int_indicator_cells_protected").df())
    indicators = dbt.ref("indicators").df()[["indicator_code", "item_code"]]
    item_waves = dbt.ref("int_item_waves").df()
    asked = indicators.merge(item_waves[item_waves["is_asked"]], on="item_code")[["indicator_code", "wave_year"]]
    rule_rows = dbt.ref("disclosure_rules").df()
    rules = dict(zip(rule_rows["rule"], rule_rows["value"].astype(float)))
    return changes(estimates, published, asked, rules)
