"""Weaker snapshots, built in the test from the warehouse's intermediate tables, on which every
attack must be able to succeed (an attack that cannot succeed proves nothing):

- `unprotected`: nothing suppressed; every cell publishes its four measures with exact counts (the
  cell's respondents asked as a band of one value, and each measure's base n as n_unweighted),
  shares rounded to whole percentage points and each cell's own exact Korn-Graubard interval, rounded
  outwards; client satisfaction with the exact number of clients, weight sums and unrounded shares;
  the administrative counts as delivered; the small-area model as an EBLUP with its Prasad-Rao MSE.
- `primary_only`: as unprotected, but the cells of the primary rules withheld with no complementary
  suppression, and the measure-level withholding of the rule before issue 20 (the pair
  share_with_opinion / hard_to_say_share withheld alone when an answer class is empty or, with few
  weights, small); administrative counts of 1-4 withheld without secondary suppression; the EBLUP and
  its exact Prasad-Rao MSE published for municipalities whose direct cell is withheld.

Tables the weak builders do not change are the protected snapshot's.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from estimation.proportions import round_half_up
from estimation.small_area import direct_inputs, estimate_wave, load_config
from ingest.settings import current_boundary_set

from .published import Published, rules
from .truth import CELL

WITHHELD = "not published: too few respondents or a disclosure risk"
OLD_PAIR_REASON = "withheld: an answer class of this cell is empty or too small"


def publish_floor(x, d: int = 2):
    return np.floor(np.round(np.asarray(x, dtype=float) * 10 ** d, 6)) / 10 ** d


def publish_ceil(x, d: int = 2):
    return np.ceil(np.round(np.asarray(x, dtype=float) * 10 ** d, 6)) / 10 ** d


def _read(warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        q = lambda sql: con.execute(sql).df()  # noqa: E731
        return {
            "estimates": q("select * from intermediate.int_indicator_estimates"),
            "cells": q("select * from intermediate.int_indicator_cells"),
            "client": q("select * from intermediate.int_client_satisfaction"),
            "admin": q("select * from intermediate.int_admin__provision"),
            "provision": q("select * from intermediate.int_provision__per_capita"),
            "units": q("select * from intermediate.int_municipalities"),
            "protected": q("select * from intermediate.int_indicator_cells_protected"),
            "small_area": q("select * from intermediate.int_trust_small_area"),
            "rules": rules(),
        }


def _estimates(wh: dict, withheld_cells: set, withheld_pair: set, withheld_all_asked: set) -> pd.DataFrame:
    e = wh["estimates"].merge(wh["cells"][CELL + ["n_asked"]], on=CELL)
    keys = list(zip(*(e[c] for c in CELL)))
    cell_out = np.array([k in withheld_cells for k in keys])
    pair_out = np.array([k in withheld_pair for k in keys]) & e["measure"].isin(
        ["share_with_opinion", "hard_to_say_share"]).to_numpy()
    asked_out = np.array([k in withheld_all_asked for k in keys]) & (e["measure"] == "share_all_asked").to_numpy()
    out = e[CELL + ["measure", "weight_source"]].copy()
    hide = cell_out | pair_out | asked_out
    show = ~hide
    out["estimate"] = np.where(show, round_half_up(e["estimate"].to_numpy(dtype=float), 2), np.nan)
    out["ci_low"] = np.where(show, publish_floor(e["ci_low"]), np.nan)
    out["ci_high"] = np.where(show, publish_ceil(e["ci_high"]), np.nan)
    n = e["n_asked"].to_numpy(dtype=float)
    out["n_band_low"] = pd.array(np.where(cell_out, np.nan, n), dtype="Int64")
    out["n_band_high"] = out["n_band_low"]
    out["n_band"] = [None if c else str(int(v)) for c, v in zip(cell_out, n)]
    out["n_unweighted"] = pd.array(np.where(hide, np.nan, e["n_base"].to_numpy(dtype=float)), dtype="Int64")
    out["is_reliable"] = np.where(show, e["is_reliable"].astype(bool), None)
    out["is_suppressed"] = hide
    out["suppression_reason"] = np.where(cell_out, WITHHELD, np.where(hide, OLD_PAIR_REASON, None))
    out["ci_method"] = e["ci_method"]
    return out


def eblup_comparisons(wh: dict, direct_withheld: set, d_override: dict | None = None,
                      waves: list | None = None) -> pd.DataFrame:
    """mart_trust_comparisons of a weak snapshot: for each current municipality whose direct
    trust_top2 cell is withheld, the EBLUP of the Fay-Herriot model (REML) and its exact Prasad-Rao
    MSE as the interval +-1.96 sqrt(MSE), unrounded. d_override: {(wave, municipality): Kish n_eff}
    (the attack recomputes the documented model with other effective sample sizes)."""
    config = replace(load_config(), variance_method="reml")
    units = wh["units"]
    current = sorted(units.loc[units["boundary_set"] == current_boundary_set(), "municipality_code"].unique())
    region = dict(zip(units.loc[units["boundary_set"] == current_boundary_set(), "municipality_code"],
                      units.loc[units["boundary_set"] == current_boundary_set(), "region_2009_2023"]))
    cells = wh["cells"].sort_values(CELL, kind="stable", ignore_index=True)
    provision = wh["provision"].sort_values(["municipality_code", "year"], kind="stable", ignore_index=True)
    rows = []
    for wave, (direct, p_nat) in sorted(direct_inputs(cells, config).items()):
        if waves is not None and wave not in waves:
            continue
        direct = direct.copy()
        for (w, code), n_eff in (d_override or {}).items():
            if w == wave and code in direct.index:
                direct.loc[code, "sum_w2"] = direct.loc[code, "sum_w"] ** 2 / n_eff
        fit = estimate_wave(wave, direct, p_nat, provision, current, config, with_synthetic=False)
        for r in fit.itertuples():
            if (wave, r.municipality_code) not in direct_withheld or r.fit_status != "fitted":
                continue
            half = 1.959963984540054 * np.sqrt(r.modelled_mse)
            rows.append({"wave_year": int(wave), "geo_level": "municipality", "geo_code": r.municipality_code,
                         "region": region.get(r.municipality_code), "indicator_code": "trust_top2",
                         "estimate_type": "modelled", "estimate": r.modelled_estimate,
                         "ci_low": max(0.0, r.modelled_estimate - half), "ci_high": min(1.0, r.modelled_estimate + half),
                         "model_fit_status": r.fit_status})
    return pd.DataFrame(rows)


def _client(wh: dict) -> pd.DataFrame:
    c = wh["client"].copy()
    c["is_suppressed"] = False
    return c.drop(columns=["n_fully", "n_rather", "n_rather_not", "n_not_at_all", "n_hard_to_say", "n_weight_values"])


def _admin(wh: dict, hide_small: bool) -> pd.DataFrame:
    a = wh["admin"].copy()
    breakdown = (a["measure"] == "count") & (a["source_column"] != "total")
    hide = breakdown & a["value"].between(1, 4) if hide_small else pd.Series(False, index=a.index)
    a["is_suppressed"] = hide.to_numpy()
    a["value"] = a["value"].where(~hide)
    return a


def _old_rules(cells: pd.DataFrame, r: dict):
    """The primary and measure-level rules before issue 20 (cell-level: threshold, 0/100 %, few
    weights; the opinion pair and share_all_asked withheld alone)."""
    k, min_n = int(r["min_category_n"]), int(r["min_unweighted_n"])
    t, b, a = cells["n_numerator"], cells["n_unweighted"], cells["n_asked"]
    o = cells["n_with_opinion"] - t
    h, rf = cells["n_hard_to_say"], cells["n_refused"]
    few = cells["n_weight_values"] <= int(r["max_weight_values_count_rule"])
    primary = (cells["n_with_opinion"] < min_n) | (t == 0) | (t == b) | (t == a) | (few & ((t < k) | (b - t < k)))
    pair = (o == 0) | (h == 0) | (h == b) | (few & ((o < k) | (h < k)))
    all_asked = few & (rf > 0) & (rf < k)
    keys = lambda mask: set(zip(*(cells.loc[mask, c] for c in CELL)))  # noqa: E731
    return keys(primary), keys(pair & ~primary), keys(all_asked & ~primary)


def _keys_of_trust_municipalities(withheld: set) -> set:
    return {(k[1], k[3]) for k in withheld
            if k[0] == "trust_top2" and k[2] == "municipality" and k[4] == "all"}


def unprotected(warehouse: Path, protected: Published, wh: dict | None = None) -> Published:
    wh = wh or _read(warehouse)
    tables = dict(protected.tables)
    tables["mart_indicator_estimates"] = _estimates(wh, set(), set(), set())
    tables["mart_client_satisfaction"] = _client(wh)
    tables["fct_service_provision"] = _admin(wh, hide_small=False)
    everyone = {(int(w), c) for w, c in wh["cells"].loc[
        (wh["cells"]["indicator_code"] == "trust_top2") & (wh["cells"]["geo_level"] == "municipality")
        & (wh["cells"]["subgroup_type"] == "all"), ["wave_year", "geo_code"]].itertuples(index=False)}
    tables["mart_trust_comparisons"] = eblup_comparisons(wh, everyone)
    return Published("unprotected", tables, {"small_area": "eblup_reml_pr"})


def primary_only(warehouse: Path, protected: Published, wh: dict | None = None) -> Published:
    wh = wh or _read(warehouse)
    r = rules()
    cells_out, pair_out, asked_out = _old_rules(wh["cells"], r)
    tables = dict(protected.tables)
    tables["mart_indicator_estimates"] = _estimates(wh, cells_out, pair_out, asked_out)
    tables["mart_client_satisfaction"] = _client(wh)
    tables["fct_service_provision"] = _admin(wh, hide_small=True)
    tables["mart_trust_comparisons"] = eblup_comparisons(wh, _keys_of_trust_municipalities(cells_out))
    return Published("primary-only", tables, {"small_area": "eblup_reml_pr"})


def read_warehouse(warehouse: Path) -> dict:
    return _read(warehouse)
