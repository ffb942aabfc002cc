"""A8 interval inversion: which effective sample sizes are consistent with a published cell's share,
interval ends and band under the documented interval method (estimation/proportions.py):

- a cell's own interval (cells of at least `exact_interval_min_n` respondents asked; every cell of a
  weak snapshot): Korn-Graubard with df = n - 1, i.e. Clopper-Pearson on the NCHS effective n,
      lower = Beta^-1(0.025; n_eff p, n_eff (1 - p) + 1),  upper = Beta^-1(0.975; n_eff p + 1, n_eff (1 - p)),
  the ends rounded outwards to whole percentage points and p the exact share, known only to the
  published rounding (+-0.005). For fixed p the lower end rises and the upper end falls with n_eff,
  so for each p of a grid over the rounding interval the consistent n_eff form one interval, found by
  bisection; the cell's set is their union;
- a band-based interval (smaller cells; ci_method says so): computed from the published share and the
  lower end of the band, it does not depend on the cell's own effective n, which is then only known to
  lie in (0, band top] (NCHS n_eff <= n <= respondents asked).

Recovered: the whole consistent set lies within +-2 of the true NCHS effective n
(intermediate.int_indicator_estimates.n_effective), the criterion of issue 20.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from estimation.proportions import korn_graubard, round_half_up

from .published import BAND_CI, Published
from .scoring import AttackResult, Finding
from .truth import CELL, Truth

TOLERANCE = 2.0
P_GRID = 11      # share values over the rounding interval, first pass
P_GRID_FINE = 201  # second pass for the cells the first pass finds empty or narrow


def _floor2(x):
    return np.floor(np.round(x * 100, 6)) / 100


def _ceil2(x):
    return np.ceil(np.round(x * 100, 6)) / 100


def _cp(p, n):
    with np.errstate(divide="ignore", invalid="ignore"):
        x = n * p
        lo = np.where(p <= 0, 0.0, stats.beta.ppf(0.025, x, n - x + 1))
        hi = np.where(p >= 1, 1.0, stats.beta.ppf(0.975, x + 1, n - x))
    return lo, hi


def _first_n(f, lo, hi, iters=16):
    """Smallest n in [lo, hi] (log scale) with f(n) True for a monotone f (False ... True); hi where
    f(hi) is False (then nothing in range), lo where f(lo) is True."""
    lo, hi = lo.copy(), hi.copy()
    f_lo, f_hi = f(lo), f(hi)
    a, b = np.log(lo), np.log(hi)
    for _ in range(iters):
        m = (a + b) / 2
        fm = f(np.exp(m))
        b = np.where(fm, m, b)
        a = np.where(fm, a, m)
    out = np.exp(b)
    out = np.where(f_lo, lo, out)
    return np.where(f_hi, out, np.inf)


def consistent_n_eff(p_pub, L, H, n_max, tol=0.005, grid=P_GRID):
    """Hull [low, high] of the effective n consistent with published share p_pub (+-tol) and ends L, H
    under the own-cell Korn-Graubard interval, n_eff in [1, n_max]; NaN where none is consistent."""
    p_pub, L, H, n_max = (np.asarray(a, dtype=float) for a in (p_pub, L, H, n_max))
    k = len(p_pub)
    deltas = np.linspace(-tol, tol, grid)
    P = np.clip(p_pub[:, None] + deltas[None, :], 0.0, 1.0).ravel()
    Lr, Hr, Nmax = (np.repeat(a, grid) for a in (L, H, n_max))
    n_lo = np.ones_like(P)
    lo_end = lambda n: _floor2(_cp(P, n)[0])  # noqa: E731
    hi_end = lambda n: _ceil2(_cp(P, n)[1])   # noqa: E731
    # lower end rises with n: first n with rounded lower >= L, first n with rounded lower > L
    a1 = _first_n(lambda n: lo_end(n) >= Lr - 1e-9, n_lo, Nmax)
    a2 = _first_n(lambda n: lo_end(n) > Lr + 1e-9, n_lo, Nmax)
    # upper end falls with n: first n with rounded upper <= H, first n with rounded upper < H
    b1 = _first_n(lambda n: hi_end(n) <= Hr + 1e-9, n_lo, Nmax)
    b2 = _first_n(lambda n: hi_end(n) < Hr - 1e-9, n_lo, Nmax)
    start = np.maximum(a1, b1)
    stop = np.minimum(np.minimum(a2, b2), Nmax)
    ok = start <= stop
    start, stop = np.where(ok, start, np.nan).reshape(k, grid), np.where(ok, stop, np.nan).reshape(k, grid)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmin(start, axis=1), np.nanmax(stop, axis=1)


def consistent_n_eff_refined(p_pub, L, H, n_max, tol=0.005, refine_narrow=True):
    """consistent_n_eff on a coarse grid of shares, again on a fine one where the coarse pass finds no
    value or a set narrow enough to pin the effective n (a sliver of shares between grid points)."""
    p_pub, L, H, n_max = (np.asarray(a, dtype=float) for a in (p_pub, L, H, n_max))
    low, high = consistent_n_eff(p_pub, L, H, n_max, tol, P_GRID)
    again = np.isnan(low) | ((high - low <= 4 * TOLERANCE) & refine_narrow)
    if again.any():
        low2, high2 = consistent_n_eff(p_pub[again], L[again], H[again], n_max[again], tol, P_GRID_FINE)
        low[again] = np.fmin(low[again], low2)
        high[again] = np.fmax(high[again], high2)
    return low, high


def attack_interval_inversion(pub: Published, truth: Truth, measures=None, max_band_high=None, waves=None,
                              refine_narrow: bool = True) -> AttackResult:
    """refine_narrow: search a narrow set again on the fine grid of shares (the coarse grid can only make
    a set narrower, so a claim on the protected snapshot is confirmed there; on a weak snapshot, where
    most sets are narrow, the coarse grid is kept for time)."""
    res = AttackResult("A8 interval inversion", pub.name)
    e = pub.est[~pub.est["is_suppressed"].astype(bool) & pub.est["estimate"].notna() & pub.est["ci_low"].notna()]
    if measures is not None:
        e = e[e["measure"].isin(measures)]
    if max_band_high is not None:
        e = e[e["n_hi"] <= max_band_high]
    if waves is not None:
        e = e[e["wave_year"].isin(waves)]
    band = e["ci_method"].astype(str).str.contains(BAND_CI, regex=False)
    n_max = np.minimum(e["n_hi"].to_numpy(dtype=float), 20000.0)
    own = e[~band.to_numpy()]
    lo, hi = consistent_n_eff_refined(own["estimate"], own["ci_low"], own["ci_high"], n_max[~band.to_numpy()],
                              tol=pub.share_tol - 1e-9 if pub.rounded else 1e-9, refine_narrow=refine_narrow)
    sets = pd.DataFrame({"low": lo, "high": hi}, index=own.index)
    band_rows = e[band.to_numpy()]
    sets = pd.concat([sets, pd.DataFrame({"low": 0.0, "high": band_rows["n_hi"].astype(float)}, index=band_rows.index)])
    e = e.join(sets)
    true_n = np.array([truth.effective_n(k, m) or np.nan for k, m in
                       zip(zip(*(e[c] for c in CELL)), e["measure"])])
    e = e.assign(true_n=true_n)
    failed = e[e["low"].isna()]
    res.failures = [f"no effective n consistent with {tuple(r[c] for c in CELL)} {r['measure']} "
                    f"{r['estimate']} [{r['ci_low']}, {r['ci_high']}]" for _, r in failed.head(20).iterrows()]
    if len(failed) > 20:
        res.failures.append(f"... {len(failed)} in all")
    ok = e.dropna(subset=["low", "true_n"])
    # the truth lies in the consistent set (a small slack for the grid over the rounding interval)
    inside = (ok["true_n"] >= ok["low"] - 0.5) & (ok["true_n"] <= ok["high"] + 0.5)
    res.check_many("true effective n in the consistent set", len(ok),
                   [(tuple(r[c] for c in CELL), r["measure"], r["low"], r["high"], r["true_n"])
                    for _, r in ok[~inside].head(5).iterrows()] + [None] * max(0, int((~inside).sum()) - 5))
    pinned = ok[(ok["low"] >= ok["true_n"] - TOLERANCE) & (ok["high"] <= ok["true_n"] + TOLERANCE)]
    for _, r in pinned.iterrows():
        f = Finding(res.attack, tuple(r[c] for c in CELL) + (r["measure"], "published"), "n_eff",
                    (round(r["low"], 2), round(r["high"], 2)), f"true {r['true_n']:.2f}")
        res.claims.append(f)
        res.hits.append(f)
    res.stats.update({"rows": len(e), "own-interval rows": len(own), "band-based rows": len(band_rows),
                      "median width of the set (own)": round(float((sets.loc[own.index, "high"]
                                                                    - sets.loc[own.index, "low"]).median()), 1)
                      if len(own) else None})
    _check_documented_method(res, pub, truth, e, band.to_numpy())
    return res


def _check_documented_method(res: AttackResult, pub: Published, truth: Truth, e: pd.DataFrame, band) -> None:
    """The method the attack assumes is the one published: at the true share and effective n the
    documented own-cell interval, rounded outwards, gives the published ends."""
    own = e[~band]
    rows = [truth.n_eff_index.get(tuple(r[c] for c in CELL) + (r["measure"],)) for _, r in own.iterrows()]
    keep = [i for i, t in enumerate(rows) if t is not None]
    if not keep:
        return
    t = pd.DataFrame([rows[i] for i in keep])
    o = own.iloc[keep]
    n_eff, lo, hi = korn_graubard(t["estimate"], t["n_effective"], t["estimate"] * (1 - t["estimate"]) / t["n_effective"],
                                  t["n_effective"] - 1)
    match = (np.abs(_floor2(lo) - o["ci_low"].to_numpy()) < 1e-9) & (np.abs(_ceil2(hi) - o["ci_high"].to_numpy()) < 1e-9)
    match &= np.abs(round_half_up(t["estimate"].to_numpy(), 2) - o["estimate"].to_numpy()) < 1e-9 if pub.rounded else True
    bad = [(tuple(o.iloc[i][c] for c in CELL), o.iloc[i]["measure"]) for i in np.flatnonzero(~match)[:5]]
    res.check_many("documented interval at the true share and n_eff = published ends", len(o),
                   bad + [None] * max(0, int((~match).sum()) - 5))
