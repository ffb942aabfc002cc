"""A1 equal-weight inversion in a raked wave.

A wave delivered without weights is raked to ONE joint region x sex margin (estimation/weighting.py,
documented): every respondent of region r and sex s carries w_rs = (pop_rs / pop) * N / n_rs, with
pop_rs public (seed ref_municipalities_2021), N the wave's sample size (public: dim_wave) and n_rs the
respondents of region r and sex s. The attacker bounds n_rs by the published counts of the region's
sex cells of the indicators asked of all residents (n_rs >= respondents asked; the twelve add up to
N), which bounds the ratio rho_r = w_rf / w_rm. In a municipality of region r the women's share is
then T_F / N_F exactly (one weight) and the cell's share (rho T_F + T_M) / (rho N_F + N_M).

For every municipality whose cell is published with at most `max_n` respondents asked, she
enumerates every (N_F, N_M, T_F, T_M) - respondents answering incl. "hard to say" and numerators of
women and men - consistent with everything published about the cell and its two sex cells: counts
(bands, or exact counts), shares within the rounding, N_F + N_M = N, the share of the cell for some
rho in its range, and, where a cell publishes its own interval, the documented Korn-Graubard interval
(estimation/proportions.py, df = n - 1, the linearised variance with the wave's n/(n - 1)) rounded
outwards. A band-based interval (smaller cells) does not depend on the cell's counts and gives no
constraint. A value shared by every candidate is recovered if it equals the truth (count_hit). The
true tuple must be a candidate (checked), and an attacked municipality without candidates is a failed
solve."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimation.proportions import korn_graubard

from .published import BAND_CI, Published, population_by_region_sex, regions_of
from .scoring import AttackResult, Finding, count_hit
from .truth import Truth

MEASURE = "share_incl_hard_to_say"


def _floor2(x):
    return np.floor(np.round(np.asarray(x, dtype=float) * 100, 6)) / 100


def _ceil2(x):
    return np.ceil(np.round(np.asarray(x, dtype=float) * 100, 6)) / 100


def region_sex_bounds(pub: Published, wave: int) -> dict:
    """{(region, sex): (low, high)} bounds on the wave's respondents of each region x sex."""
    e = pub.est
    ind = pub.tables["dim_indicator"]
    residents = set(ind.loc[ind["population"] == "residents", "indicator_code"])
    n_wave = float(pub.tables["dim_wave"].set_index("wave_year").at[wave, "n_respondents_delivered"])
    rs = e[(e["wave_year"] == wave) & (e["geo_level"] == "region") & (e["subgroup_type"] == "sex")
           & e["indicator_code"].isin(residents) & ~e["is_suppressed"].astype(bool)]
    low = rs.groupby(["geo_code", "subgroup_value"])["n_lo"].max().to_dict()
    out = {}
    for k, lo in low.items():
        out[k] = (lo, n_wave - sum(v for kk, v in low.items() if kk != k))
    return out


def rho_range(bounds: dict, pop: dict) -> dict:
    out = {}
    for region in {r for r, _ in bounds}:
        if (region, "female") in bounds and (region, "male") in bounds:
            (fl, fh), (ml, mh) = bounds[(region, "female")], bounds[(region, "male")]
            k = pop[(region, "female")] / pop[(region, "male")]
            # widened by 1e-7: the raking (weightipy, iterative) meets the margin to about 1e-9
            out[region] = (k * ml / fh * (1 - 1e-7), k * mh / fl * (1 + 1e-7))
    return out


class Cell:
    """What is published about one cell, as constraints."""

    def __init__(self, row, pub: Published, min_n: int):
        self.present = row is not None
        self.published = self.present and not bool(row.is_suppressed)
        if not self.present:
            self.b_lo = self.b_hi = 0
            return
        if self.published and not np.isnan(row.base_lo):
            self.b_lo = self.b_hi = int(row.base_lo)
        else:
            self.b_lo = min_n if self.published else 0
            self.b_hi = int(min(row.n_hi, 10 ** 6))
        self.p = float(row.estimate) if self.published else np.nan
        self.own_interval = self.published and not pd.isna(row.ci_low) and BAND_CI not in str(row.ci_method)
        self.ci = (float(row.ci_low), float(row.ci_high)) if self.published else None


def _interval_ok(p, n, v, ci):
    _, lo, hi = korn_graubard(p, n, v, n - 1)
    return (np.abs(_floor2(lo) - ci[0]) < 1e-9) & (np.abs(_ceil2(hi) - ci[1]) < 1e-9)


def feasible(NF, NM, TF, TM, tot: Cell, fem: Cell, mal: Cell, rhos, tol, n_design):
    """Which candidate tuples satisfy every published constraint (arrays of equal length)."""
    NF, NM, TF, TM = (np.asarray(a, dtype=float) for a in (NF, NM, TF, TM))
    n = NF + NM
    ok = (n >= tot.b_lo) & (n <= tot.b_hi) & (TF <= NF) & (TM <= NM) & (TF >= 0) & (TM >= 0)
    for c, N_, T_ in ((fem, NF, TF), (mal, NM, TM)):
        ok &= (N_ >= c.b_lo) & (N_ <= c.b_hi)
        if c.published:
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(N_ > 0, T_ / np.maximum(N_, 1), np.nan)
            ok &= np.abs(share - c.p) <= tol
            if c.own_interval:
                v = n_design / (n_design - 1) * share * (1 - share) / np.maximum(N_, 1)
                ok &= _interval_ok(share, N_, v, c.ci)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_at = [(r * TF + TM) / (r * NF + NM) for r in (rhos[0], rhos[1])]
    lo, hi = np.fmin(*p_at), np.fmax(*p_at)
    ok &= (hi >= tot.p - tol) & (lo <= tot.p + tol)
    if tot.own_interval:
        any_rho = np.zeros(len(ok), dtype=bool)
        for r in np.unique([rhos[0], (rhos[0] + rhos[1]) / 2, rhos[1]]):
            W = r * NF + NM
            with np.errstate(divide="ignore", invalid="ignore"):
                p = (r * TF + TM) / W
                ss = r ** 2 * (TF * (1 - p) ** 2 + (NF - TF) * p ** 2) + (TM * (1 - p) ** 2 + (NM - TM) * p ** 2)
                v = n_design / (n_design - 1) * ss / W ** 2
            any_rho |= _interval_ok(p, np.maximum(n, 1), v, tot.ci)
        ok &= any_rho
    return ok


def _search(tot: Cell, fem: Cell, mal: Cell, rhos, tol, n_design, max_n):
    """min and max of each coordinate over all candidates, and their number."""
    best = None
    count = 0
    f_hi, m_hi = min(fem.b_hi, max_n), min(mal.b_hi, max_n)
    for nf in range(fem.b_lo, f_hi + 1):
        nm = np.arange(mal.b_lo, m_hi + 1)
        nm = nm[(nf + nm >= tot.b_lo) & (nf + nm <= tot.b_hi)]
        if not len(nm):
            continue
        tf = np.arange(0, nf + 1)
        if fem.published and nf > 0:
            tf = tf[np.abs(tf / nf - fem.p) <= tol]
        NMg, TFg, TMg = [], [], []
        for m in nm:
            tm = np.arange(0, m + 1)
            if mal.published and m > 0:
                tm = tm[np.abs(tm / m - mal.p) <= tol]
            if not len(tm) or not len(tf):
                continue
            a, b = np.meshgrid(tf, tm, indexing="ij")
            NMg.append(np.full(a.size, m)); TFg.append(a.ravel()); TMg.append(b.ravel())
        if not NMg:
            continue
        NMa, TFa, TMa = np.concatenate(NMg), np.concatenate(TFg), np.concatenate(TMg)
        NFa = np.full(len(NMa), nf)
        ok = feasible(NFa, NMa, TFa, TMa, tot, fem, mal, rhos, tol, n_design)
        if not ok.any():
            continue
        count += int(ok.sum())
        pts = np.column_stack([NFa[ok], NMa[ok], TFa[ok], TMa[ok]])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        best = (lo, hi) if best is None else (np.minimum(best[0], lo), np.maximum(best[1], hi))
    return best, count


def attack_equal_weights(pub: Published, truth: Truth, r: dict, max_n: int = 49) -> AttackResult:
    res = AttackResult("A1 equal-weight inversion", pub.name)
    e = pub.est[pub.est["measure"] == MEASURE]
    pop = population_by_region_sex()
    region_of = regions_of(pub)
    tol = pub.share_tol
    min_n = int(r["min_unweighted_n"])
    attacked = 0
    for wave in sorted(e.loc[e["weight_source"] == "raked", "wave_year"].unique()):
        wave = int(wave)
        n_design = float(pub.tables["dim_wave"].set_index("wave_year").at[wave, "n_respondents_delivered"])
        bounds = region_sex_bounds(pub, wave)
        rhos = rho_range(bounds, pop)
        # the truth: respondents and weights of each region x sex of the wave
        tr = truth.raked[truth.raked["wave_year"] == wave].set_index(["region", "sex"])
        for (region, sex), (lo, hi) in bounds.items():
            res.check("region x sex respondents within the attacker's bounds",
                      (region, sex) in tr.index and lo <= tr.at[(region, sex), "n"] <= hi, (wave, region, sex, lo, hi))
        for region, (a, b) in rhos.items():
            true_rho = tr.at[(region, "female"), "weight"] / tr.at[(region, "male"), "weight"]
            res.check("true weight ratio within the attacker's range", a - 1e-12 <= true_rho <= b + 1e-12,
                      (wave, region, a, b, true_rho))
            res.check("one weight per region x sex (truth)", tr.loc[region, "spread"].max() < 1e-12, (wave, region))
        ew = e[e["wave_year"] == wave]
        for ind, g in ew[ew["geo_level"] == "municipality"].groupby("indicator_code"):
            by = {(row.geo_code, row.subgroup_type, row.subgroup_value): row for row in g.itertuples()}
            for (code, stype, _), total in list(by.items()):
                if stype != "all" or total.is_suppressed or total.n_hi > max_n:
                    continue
                region = region_of.get(code)
                if region not in rhos:
                    continue
                attacked += 1
                fem_row, mal_row = by.get((code, "sex", "female")), by.get((code, "sex", "male"))
                tot, fem, mal = Cell(total, pub, min_n), Cell(fem_row, pub, min_n), Cell(mal_row, pub, min_n)
                key = (ind, wave, "municipality", code)
                tf, tm = truth.cell(key + ("sex", "female")), truth.cell(key + ("sex", "male"))
                true = [tf["B"] if tf else 0, tm["B"] if tm else 0, tf["T"] if tf else 0, tm["T"] if tm else 0]
                truth_ok = bool(feasible(*[[v] for v in true], tot, fem, mal, rhos[region], tol, n_design)[0])
                res.check("the true split is a candidate", truth_ok, (key, true))
                found, count = _search(tot, fem, mal, rhos[region], tol, n_design, max_n)
                if found is None:
                    res.failures.append(f"no candidate for {key}")
                    continue
                res.stats["candidates"] = res.stats.get("candidates", 0) + count
                lo, hi = found
                for col, (row, what) in enumerate([(fem_row, "B"), (mal_row, "B"), (fem_row, "T"), (mal_row, "T")]):
                    if row is None or lo[col] != hi[col]:
                        continue
                    state = "suppressed" if row.is_suppressed else "published"
                    f = Finding(res.attack, key + ("sex", row.subgroup_value, state), what, float(lo[col]))
                    res.claims.append(f)
                    if count_hit(f, truth.cell(f.key)):
                        res.hits.append(f)
    res.stats["municipal cells attacked"] = attacked
    return res
