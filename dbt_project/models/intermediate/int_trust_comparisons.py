"""Trust here against the region and Latvia, and whether the gap is more than sampling noise.

One row per wave and region, and per wave and current municipality, for trust_top2 (share incl.
"hard to say", subgroup all), before rounding:
- a region's figure is its direct estimate;
- a municipality's headline figure is its direct estimate where that cell is published and reliable,
  otherwise the model's regression-synthetic estimate fitted WITHOUT its respondents
  (int_trust_small_area), otherwise none;
- the gap to Latvia (and, for a municipality, to its region) with a normal-theory standard error:
  a direct estimate is part of the larger area's sample, so
      var(p_m - p_L) = v_m + v_L - 2 w_m v_m,   w_m = the area's share of the larger area's weights
  (the covariance of a domain estimate with the total of independent domains); a synthetic estimate
  uses none of the area's respondents and is treated as independent of the larger area's estimate
  (its MSE added to the larger area's variance; the other areas it borrows from are part of both, so
  this overstates the variance a little: the test is conservative);
- two-sided p-values, and Benjamini-Hochberg q-values within each family of one wave, one geography
  level and one comparison (42 municipalities against Latvia; 42 against their regions; the
  regions against Latvia), at the false discovery rate of seed disclosure_rules.fdr_q. A gap is
  called significant only where q <= fdr_q; pages colour or arrow nothing else.
"""
import numpy as np
import pandas as pd

from estimation.proportions import benjamini_hochberg, two_sided_p

INDICATOR, MEASURE = "trust_top2", "share_incl_hard_to_say"
CELL = ["wave_year", "geo_level", "geo_code"]


def _gap(out: pd.DataFrame, prefix: str, other: pd.Series, other_var: pd.Series, cov: pd.Series) -> None:
    out[f"{prefix}_estimate"] = other
    out[prefix] = out["estimate"] - other
    out[f"{prefix}_se"] = np.sqrt(out["variance"] + other_var - 2 * cov)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"{prefix}_p"] = np.where(out[f"{prefix}_se"] > 0, two_sided_p(out[prefix] / out[f"{prefix}_se"]), np.nan)


def comparisons(estimates: pd.DataFrame, cells: pd.DataFrame, protected: pd.DataFrame, small_area: pd.DataFrame,
                units: pd.DataFrame, rules: dict, current_set: str) -> pd.DataFrame:
    # what is published of each cell: its interval and reliability (band-based for a small cell) and the
    # variance that interval implies, so a gap's significance reveals no more than the cell's own figures
    est = estimates[(estimates["indicator_code"] == INDICATOR) & (estimates["subgroup_type"] == "all")
                    & (estimates["measure"] == MEASURE)][
        CELL + ["estimate", "published_variance", "published_ci_low", "published_ci_high", "published_is_reliable"]].rename(
        columns={"published_variance": "variance", "published_ci_low": "ci_low", "published_ci_high": "ci_high",
                 "published_is_reliable": "is_reliable"})
    weights = cells[(cells["indicator_code"] == INDICATOR) & (cells["subgroup_type"] == "all")][CELL + ["sum_w"]]
    status = protected[(protected["indicator_code"] == INDICATOR) & (protected["subgroup_type"] == "all")][
        CELL + ["is_suppressed"]]
    d = est.merge(weights, on=CELL).merge(status, on=CELL)
    d["published"] = ~d["is_suppressed"].astype(bool)
    latvia = d[d["geo_level"] == "national"].set_index("wave_year")
    regions = d[d["geo_level"] == "region"].set_index(["wave_year", "geo_code"])
    z = rules["z_95"]

    # regions against Latvia (published regions only)
    reg = d[(d["geo_level"] == "region") & d["published"]].copy()
    reg["region"] = reg["geo_code"]
    reg["geo_name"] = reg["geo_code"]
    reg["estimate_type"] = "direct"
    lv = latvia.loc[reg["wave_year"]]
    _gap(reg, "gap_latvia", lv["estimate"].to_numpy(), lv["variance"].to_numpy(),
         (reg["sum_w"].to_numpy() / lv["sum_w"].to_numpy()) * reg["variance"].to_numpy())
    for col in ("gap_region", "gap_region_estimate", "gap_region_se", "gap_region_p"):
        reg[col] = np.nan

    # municipalities: the headline figure and its gaps
    current = units[units["boundary_set"] == current_set][
        ["municipality_code", "region_2009_2023", "municipality_name", "nuts2016_code"]]
    region_code = dict(zip(current["region_2009_2023"], current["nuts2016_code"]))
    sa = small_area[small_area["indicator_code"] == INDICATOR][
        ["wave_year", "municipality_code", "synthetic_estimate", "synthetic_mse", "fit_status", "skip_reason"]]
    waves = sorted(latvia.index)
    frame = pd.DataFrame([(w, c, r, name) for w in waves for c, r, name, _ in current.itertuples(index=False)],
                         columns=["wave_year", "geo_code", "region", "geo_name"])
    frame["geo_level"] = "municipality"
    mun = frame.merge(d[d["geo_level"] == "municipality"], on=CELL, how="left").merge(
        sa.rename(columns={"municipality_code": "geo_code"}), on=["wave_year", "geo_code"], how="left")
    use_direct = mun["published"].fillna(False).astype(bool) & mun["is_reliable"].fillna(False).astype(bool)
    use_model = ~use_direct & (mun["fit_status"] == "fitted") & mun["synthetic_estimate"].notna()
    mun["estimate_type"] = np.select([use_direct, use_model], ["direct", "modelled"], "none")
    mun["estimate"] = np.select([use_direct, use_model], [mun["estimate"], mun["synthetic_estimate"]], np.nan)
    mun["variance"] = np.select([use_direct, use_model], [mun["variance"], mun["synthetic_mse"]], np.nan)
    half = z * np.sqrt(mun["synthetic_mse"])
    mun["ci_low"] = np.select([use_direct, use_model], [mun["ci_low"], np.maximum(0.0, mun["synthetic_estimate"] - half)], np.nan)
    mun["ci_high"] = np.select([use_direct, use_model], [mun["ci_high"], np.minimum(1.0, mun["synthetic_estimate"] + half)], np.nan)
    lv = latvia.reindex(mun["wave_year"])
    w_lv = np.where(use_direct, mun["sum_w"].to_numpy() / lv["sum_w"].to_numpy(), 0.0)
    _gap(mun, "gap_latvia", lv["estimate"].to_numpy(), lv["variance"].to_numpy(), w_lv * mun["variance"].to_numpy())
    rg = regions.reindex(pd.MultiIndex.from_arrays([mun["wave_year"], mun["region"]]))
    region_ok = rg["published"].fillna(False).astype(bool).to_numpy()
    w_rg = np.where(use_direct, mun["sum_w"].to_numpy() / rg["sum_w"].to_numpy(), 0.0)
    _gap(mun, "gap_region", np.where(region_ok, rg["estimate"].to_numpy(), np.nan), rg["variance"].to_numpy(),
         w_rg * mun["variance"].to_numpy())

    out = pd.concat([reg, mun], ignore_index=True)
    out["region_code"] = out["region"].map(region_code)
    fdr = rules["fdr_q"]
    for prefix in ("gap_latvia", "gap_region"):
        out[f"{prefix}_q"] = np.nan
        tested = out[f"{prefix}_p"].notna()
        for _, idx in out[tested].groupby(["wave_year", "geo_level"]).groups.items():
            out.loc[idx, f"{prefix}_q"] = benjamini_hochberg(out.loc[idx, f"{prefix}_p"].to_numpy())
        out[f"{prefix}_significant"] = (out[f"{prefix}_q"] <= fdr).fillna(False).astype(bool)
        out[f"{prefix}_family_size"] = out.groupby(["wave_year", "geo_level"])[f"{prefix}_p"].transform("count").astype(int)
    out["model_fit_status"] = out.get("fit_status")
    out["model_skip_reason"] = out.get("skip_reason")
    cols = ["wave_year", "geo_level", "geo_code", "geo_name", "region_code", "region", "estimate_type", "estimate", "variance", "ci_low", "ci_high",
            "gap_latvia_estimate", "gap_latvia", "gap_latvia_se", "gap_latvia_p", "gap_latvia_q",
            "gap_latvia_significant", "gap_latvia_family_size",
            "gap_region_estimate", "gap_region", "gap_region_se", "gap_region_p", "gap_region_q",
            "gap_region_significant", "gap_region_family_size", "model_fit_status", "model_skip_reason"]
    out = out[cols].sort_values(["wave_year", "geo_level", "geo_code"], kind="stable", ignore_index=True)
    out["wave_year"] = out["wave_year"].astype(int)
    for c in ("model_fit_status", "model_skip_reason", "region", "region_code", "geo_name"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def model(dbt, session):
    dbt.config(materialized="table")
    key = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]
    estimates = dbt.ref("int_indicator_estimates").df().sort_values(key + ["measure"], kind="stable", ignore_index=True)
    cells = dbt.ref("int_indicator_cells").df().sort_values(key, kind="stable", ignore_index=True)
    protected = dbt.ref("int_indicator_cells_protected").df().sort_values(key, kind="stable", ignore_index=True)
    small_area = dbt.ref("int_trust_small_area").df().sort_values(["wave_year", "municipality_code"], kind="stable",
                                                                    ignore_index=True)
    units = dbt.ref("int_municipalities").df()
    boundary_sets = dbt.ref("boundary_sets").df()
    current_set = boundary_sets.loc[boundary_sets["valid_to"].isna(), "boundary_set"].iloc[0]
    rule_rows = dbt.ref("disclosure_rules").df()
    rules = dict(zip(rule_rows["rule"], rule_rows["value"].astype(float)))
    return comparisons(estimates, cells, protected, small_area, units, rules, current_set)
