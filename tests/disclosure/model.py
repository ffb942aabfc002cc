"""A2 model-error inversion: do the published small-area figures of mart_trust_comparisons (a
municipality's model-based estimate and its interval) give back the effective sample size of a
municipality whose direct cell is withheld?

The model's sampling variance of area j is D_j = p_nat (1 - p_nat) / n_eff_j (Kish), so the model's
outputs depend on n_eff_j. In the protected snapshot the published model figure of a municipality is
its regression-synthetic estimate fitted WITHOUT its own respondents (hierarchical Bayes,
estimation/small_area_model.yml), so n_eff_j reaches only the other areas' figures; in the weak
snapshots it is the EBLUP of area j with its exact Prasad-Rao MSE, which carries n_eff_j directly.

The intruder here is stronger than any real one: she knows the documented model and every other input
exactly (every other area's share and effective n, area j's share, the covariates), and asks which
values of n_eff_j are consistent with the published figures. A value is excluded only where it moves
some published figure by at least the publication step (0.01 for figures rounded to whole percentage
points: such a move changes the published figure wherever the value sits in its rounding cell; any
move for figures published exactly); a smaller move may leave every published figure as it is. She
tests n_eff_j = t +- 2.01, t +- 3, t +- 5, t +- 10, t / 2, 2 t, 1 and 5000 (t the truth): n_eff_j is
recovered (pinned within +-2) when every one of them is excluded. The documented model, recomputed at
the true inputs (the pipeline's code, and this attack's own implementation), must reproduce the
published figures (checked). The earlier least-squares version of this attack (the intruder fitting
the unknowns from what she reads) knows less and is not kept: on the protected snapshot its sets,
conditional on an imperfect fit, missed the truth in 4 of 6 claims."""
from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np
import pandas as pd

from estimation.fay_herriot import fit_model
from estimation.proportions import round_half_up
from estimation.small_area import covariate_year, design_matrix, direct_inputs, load_config
from ingest.settings import current_boundary_set

from .published import Published
from .scoring import AttackResult, Finding
from .truth import CELL, Truth
from . import weak

SORT = CELL


def _floor2(x):
    return np.floor(np.round(np.asarray(x, dtype=float) * 100, 6)) / 100


def _ceil2(x):
    return np.ceil(np.round(np.asarray(x, dtype=float) * 100, 6)) / 100


class ProtectedModel:
    """The published figures of one wave of mart_trust_comparisons recomputed from the model inputs
    (the pipeline's own estimation code: estimation/small_area.py, int_trust_comparisons.comparisons)."""

    def __init__(self, wh: dict, wave: int):
        from importlib import util
        from ingest.settings import REPO_ROOT
        spec = util.spec_from_file_location("int_trust_comparisons", REPO_ROOT / "dbt_project" / "models"
                                            / "intermediate" / "int_trust_comparisons.py")
        mod = util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        self.comparisons = mod.comparisons
        self.config = load_config()
        self.wave = wave
        units = wh["units"]
        self.current = sorted(units.loc[units["boundary_set"] == current_boundary_set(), "municipality_code"].unique())
        cells = wh["cells"].sort_values(SORT, kind="stable", ignore_index=True)
        self.cells = cells[cells["wave_year"] == wave]
        self.direct, self.p_nat = direct_inputs(self.cells, self.config)[wave]
        self.provision = wh["provision"].sort_values(["municipality_code", "year"], kind="stable", ignore_index=True)
        est = wh["estimates"].sort_values(SORT + ["measure"], kind="stable", ignore_index=True)
        self.estimates = est[est["wave_year"] == wave]
        prot = wh["protected"].sort_values(SORT, kind="stable", ignore_index=True)
        self.protected = prot[prot["wave_year"] == wave]
        self.small_area = wh["small_area"][wh["small_area"]["wave_year"] == wave].reset_index(drop=True)
        self.units = units
        self.rules = wh["rules"]
        # which areas the comparisons show as modelled (direct cell withheld or unreliable): fixed by the
        # direct cells, not by the model
        e = self.estimates
        d = e[(e["indicator_code"] == "trust_top2") & (e["geo_level"] == "municipality") & (e["subgroup_type"] == "all")
              & (e["measure"] == "share_incl_hard_to_say")].set_index("geo_code")
        pr = self.protected[(self.protected["indicator_code"] == "trust_top2")
                            & (self.protected["geo_level"] == "municipality")
                            & (self.protected["subgroup_type"] == "all")].set_index("geo_code")
        self.direct_shown = {c for c in self.current if c in pr.index and not bool(pr.at[c, "is_suppressed"])
                             and c in d.index and bool(d.at[c, "published_is_reliable"])}

    def in_fit(self) -> set:
        n = self.direct["n_unweighted"].reindex(self.current).fillna(0)
        return {c for c in self.current if n[c] >= self.config.min_respondents}

    def figures(self, override: dict | None = None) -> pd.DataFrame:
        direct = self.direct.reindex(self.current).copy()
        for code, n_eff in (override or {}).items():
            direct.loc[code, "sum_w2"] = direct.loc[code, "sum_w"] ** 2 / n_eff
        cfg = self.config
        n = direct["n_unweighted"].fillna(0).astype(int).to_numpy()
        y = direct["share"].to_numpy(dtype=float)
        n_eff = (direct["sum_w"] ** 2 / direct["sum_w2"]).to_numpy(dtype=float)
        has = n >= cfg.min_respondents
        D = np.where(has, self.p_nat * (1 - self.p_nat) / n_eff, np.nan)
        year = covariate_year(self.provision, self.wave, self.current, cfg.covariates)
        X = design_matrix(self.provision, year, self.current, cfg.covariates)
        yd, Dd, Xd = y[has], D[has], X[has]
        syn, mse = np.full(len(y), np.nan), np.full(len(y), np.nan)
        f = fit_model(yd, Dd, Xd, cfg.variance_method)
        syn[~has], mse[~has] = f.predict(X[~has])
        idx = np.flatnonzero(has)
        for pos, i in enumerate(idx):
            if self.current[i] in self.direct_shown:
                continue  # shown with its direct estimate: its synthetic figure is not published
            keep = np.arange(len(idx)) != pos
            e_, v_ = fit_model(yd[keep], Dd[keep], Xd[keep], cfg.variance_method).predict(X[i:i + 1])
            syn[i], mse[i] = e_[0], v_[0]
        sa = self.small_area.set_index("municipality_code").reindex(self.current).reset_index()
        sa["synthetic_estimate"] = np.clip(syn, 0.0, 1.0)
        sa["synthetic_mse"] = mse
        args = [self.estimates, self.cells, self.protected, sa, self.units, self.rules]
        if "current_set" in inspect.signature(self.comparisons).parameters:
            args.append(current_boundary_set())
        out = self.comparisons(*args)
        out = out[out["geo_level"] == "municipality"].set_index("geo_code").sort_index()
        return pd.DataFrame({
            "estimate": round_half_up(out["estimate"].to_numpy(dtype=float), 2),
            "ci_low": _floor2(out["ci_low"]), "ci_high": _ceil2(out["ci_high"]),
            "gap_latvia_significant": out["gap_latvia_significant"].astype(bool),
            "gap_region_significant": out["gap_region_significant"].astype(bool)}, index=out.index)


class WeakModel:
    """The weak snapshots' model figures: EBLUP and exact Prasad-Rao MSE (weak.eblup_comparisons)."""

    def __init__(self, wh: dict, wave: int, withheld: set):
        self.wh, self.wave, self.withheld = wh, wave, withheld
        self.config = replace(load_config(), variance_method="reml")
        cells = wh["cells"].sort_values(SORT, kind="stable", ignore_index=True)
        self.direct, _ = direct_inputs(cells[cells["wave_year"] == wave], self.config)[wave]

    def in_fit(self) -> set:
        return set(self.direct.index[self.direct["n_unweighted"] >= self.config.min_respondents])

    def figures(self, override: dict | None = None) -> pd.DataFrame:
        t = weak.eblup_comparisons(self.wh, self.withheld, {(self.wave, c): v for c, v in (override or {}).items()},
                                   waves=[self.wave])
        return t.set_index("geo_code").sort_index()[["estimate", "ci_low", "ci_high"]]


def _same(a: pd.DataFrame, b: pd.DataFrame, exact: bool) -> bool:
    if not a.index.equals(b.index):
        return False
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype == bool or y.dtype == bool:
            if not np.array_equal(x.astype(bool), y.astype(bool)):
                return False
        else:
            x, y = x.astype(float), y.astype(float)
            same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= (1e-9 if exact else 1e-6))
            if not same.all():
                return False
    return True


def published_figures(pub: Published, wave: int, columns) -> pd.DataFrame:
    tc = pub.tables["mart_trust_comparisons"]
    tc = tc[(tc["wave_year"] == wave) & (tc["geo_level"] == "municipality")]
    if "estimate_type" in tc.columns and pub.docs.get("small_area") == "eblup_reml_pr":
        tc = tc[tc["estimate_type"] == "modelled"]
    return tc.set_index("geo_code").sort_index()[list(columns)]


Z = 1.959963984540054
NEAR_MISS = 2.0
MAX_NFEV = 15  # function evaluations per unknown of the least squares (the fit may stop there; its misfit says so)


def _consistent_range(method, y, n_eff, pq, X, in_fit, shown, base, j, noise, n_max=5000.0):
    """The n_eff_j (others at the fit) whose figures stay within `noise` of the fit's: searched outwards
    from the fit on each side (the shift grows with the distance), then bisected."""
    def moved(v):
        n2 = n_eff.copy()
        n2[j] = v
        return float(np.max(np.abs(_figures(method, y, pq / n2, X, in_fit, shown) - base)))

    centre = n_eff[j]
    ends = []
    for direction in (-1, 1):
        inside, step = centre, 1.0
        outside = None
        while outside is None:
            v = centre + direction * step
            if v < 1.0 or v > n_max:
                outside = None
                inside = 1.0 if direction < 0 else n_max
                break
            if moved(v) > noise:
                outside = v
            else:
                inside, step = v, step * 2
        if outside is not None:
            for _ in range(6):
                mid = (inside + outside) / 2
                if moved(mid) > noise:
                    outside = mid
                else:
                    inside = mid
        ends.append(inside)
    return ends[0], ends[1]


def _attacker_inputs(pub: Published, wave: int, current: list):
    """The intruder's knowledge of every current municipality's direct share and effective n."""
    from .intervals import consistent_n_eff
    e = pub.est
    d = e[(e["indicator_code"] == "trust_top2") & (e["wave_year"] == wave) & (e["subgroup_type"] == "all")
          & (e["measure"] == "share_incl_hard_to_say")]
    nat = d[d["geo_level"] == "national"]["estimate"].iloc[0]
    m = d[d["geo_level"] == "municipality"].set_index("geo_code").reindex(current)
    published = ~m["is_suppressed"].fillna(True).astype(bool).to_numpy()
    y = m["estimate"].to_numpy(dtype=float)
    n_eff = np.full(len(current), np.nan)
    hi = np.minimum(m["n_hi"].to_numpy(dtype=float), 20000.0)
    lo_band = m["n_lo"].to_numpy(dtype=float)
    own = published & ~m["ci_method"].astype(str).str.contains("band", regex=False).to_numpy()
    if own.any():
        a, b = consistent_n_eff(y[own], m["ci_low"].to_numpy(float)[own], m["ci_high"].to_numpy(float)[own], hi[own],
                                tol=pub.share_tol)
        n_eff[own] = np.where(np.isnan(a), (lo_band[own] + hi[own]) / 2, (a + b) / 2)
    band = published & ~own
    n_eff[band] = (lo_band[band] + np.where(np.isfinite(hi[band]), hi[band], lo_band[band])) / 2
    exists = m["is_suppressed"].notna().to_numpy()
    return float(nat), y, n_eff, published, exists


def _figures(method: str, y, D, X, in_fit, shown: np.ndarray):
    """Model figures (estimate, ci_low, ci_high) of the areas `shown`, by the documented method."""
    yd, Dd, Xd = y[in_fit], D[in_fit], X[in_fit]
    est, mse = np.full(len(y), np.nan), np.full(len(y), np.nan)
    if method == "eblup_reml_pr":
        f = fit_model(yd, Dd, Xd, "reml")
        est[in_fit], mse[in_fit] = f.estimate, f.mse
        if (~in_fit).any():
            est[~in_fit], mse[~in_fit] = f.predict(X[~in_fit])
    else:
        f = fit_model(yd, Dd, Xd, "hb_flat")
        if (~in_fit).any():
            est[~in_fit], mse[~in_fit] = f.predict(X[~in_fit])
        idx = np.flatnonzero(in_fit)
        for pos, i in enumerate(idx):
            if shown[i]:
                keep = np.arange(len(idx)) != pos
                e_, v_ = fit_model(yd[keep], Dd[keep], Xd[keep], "hb_flat").predict(X[i:i + 1])
                est[i], mse[i] = e_[0], v_[0]
    est = np.clip(est, 0.0, 1.0)
    half = Z * np.sqrt(np.maximum(mse, 0))
    return np.column_stack([est, np.maximum(0.0, est - half), np.minimum(1.0, est + half)])[shown]


def attack_model_error(pub: Published, truth: Truth, wh: dict, waves=None) -> AttackResult:
    res = AttackResult("A2 model-error inversion", pub.name)
    method = pub.docs.get("small_area", "hb_flat_synthetic")
    rounded = method != "eblup_reml_pr"
    step = 0.01 if rounded else 1e-6
    config = load_config()
    units = pub.tables["dim_municipality"]
    current = sorted(units.loc[units["current_municipality_code"].notna() & (units["boundary_set"] == current_boundary_set()),
                               "municipality_code"].unique())
    prov = pub.tables["mart_provision_per_capita"].sort_values(["municipality_code", "year"], kind="stable",
                                                               ignore_index=True)
    e = pub.est
    d = e[(e["indicator_code"] == "trust_top2") & (e["geo_level"] == "municipality") & (e["subgroup_type"] == "all")
          & (e["measure"] == "share_incl_hard_to_say")]
    withheld_all = {(int(r.wave_year), r.geo_code) for r in d.itertuples() if r.is_suppressed}
    tested = excluded_at_3 = 0
    for wave in sorted(waves or d["wave_year"].unique()):
        wave = int(wave)
        tc = pub.tables["mart_trust_comparisons"]
        tc = tc[(tc["wave_year"] == wave) & (tc["geo_level"] == "municipality") & (tc["estimate_type"] == "modelled")]
        tc = tc.set_index("geo_code").reindex(current)
        shown = tc["estimate"].notna().to_numpy()
        withheld = np.array([(wave, c) in withheld_all for c in current])
        if not shown.any() or not withheld.any():
            continue
        model = WeakModel(wh, wave, withheld_all) if not rounded else ProtectedModel(wh, wave)
        at_truth = model.figures()
        res.check("the documented model at the truth reproduces the published figures (pipeline code)",
                  _same(at_truth, published_figures(pub, wave, at_truth.columns), rounded), (wave,))
        year = covariate_year(prov, wave, current, config.covariates)
        X = design_matrix(prov, year, current, config.covariates)
        target = tc[["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float)[shown]
        cells = [truth.cell(("trust_top2", wave, "municipality", c, "all", "all")) for c in current]
        nat = truth.cell(("trust_top2", wave, "national", "LV", "all", "all"))
        y_t = np.array([np.nan if c is None else c["share_incl_hard_to_say"] for c in cells])
        n_t = np.array([np.nan if c is None else c["kish_n_eff"] for c in cells])
        in_fit = np.array([c is not None and c["B"] >= config.min_respondents for c in cells])
        pq = nat["share_incl_hard_to_say"] * (1 - nat["share_incl_hard_to_say"])
        exact_t = _figures(method, y_t, pq / n_t, X, in_fit, shown)
        shown_t = np.column_stack([round_half_up(exact_t[:, 0], 2), _floor2(exact_t[:, 1]), _ceil2(exact_t[:, 2])]) \
            if rounded else exact_t
        res.check("this attack's model at the truth reproduces the published figures",
                  bool(np.all(np.abs(shown_t - target) < (1e-9 if rounded else 1e-6))),
                  (wave, float(np.max(np.abs(shown_t - target)))))

        def shift(j, v):
            n2 = n_t.copy()
            n2[j] = v
            return float(np.max(np.abs(_figures(method, y_t, pq / n2, X, in_fit, shown) - exact_t)))

        largest = 0.0
        for j in np.flatnonzero(withheld & in_fit):
            t = n_t[j]
            tested += 1
            near = [shift(j, v) for v in (max(1.0, t - 3), t + 3)]
            largest = max(largest, *near)
            if min(near) < step:
                continue  # a value 3 respondents away is consistent: not pinned
            excluded_at_3 += 1
            others = [v for v in (t - 2.01, t + 2.01, t - 5, t + 5, t - 10, t + 10, t / 2, 2 * t, 1.0, 5000.0)
                      if v >= 1.0 and abs(v - t) > 2]
            if all(shift(j, v) >= step for v in others):
                f = Finding(res.attack, ("trust_top2", wave, "municipality", current[j], "all", "all", "suppressed"),
                            "n_eff", round(float(t), 2), f"every tested value beyond +-2 moves a figure by >= {step:g}")
                res.claims.append(f)
                res.hits.append(f)
        res.stats[f"largest move of a figure by +-3 respondents, {wave}"] = round(largest, 4)
    res.stats["withheld municipalities in the model"] = tested
    res.stats["of which both +-3 moves show"] = excluded_at_3
    return res
