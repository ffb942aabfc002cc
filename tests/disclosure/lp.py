"""A3 linked tables: linear programs over every table that shares cells.

For every indicator and wave, the cells (geography x subgroup) are tied by additive sets (a subgroup
dimension and its `all` cell; the municipalities of a region and the region; the regions and the
nation: published.linked_sets). Where the documented data do not guarantee that the members add up
(a region with a split territory, whose respondents have a region but no current municipality), the
set is an inequality, total >= sum of members.

- counts: for every withheld cell, the least and the most respondents asked it can hold given every
  published band (or exact count), every set and at least 1 respondent in a cell that exists (at
  least `full_measures_min_n` where a withheld cell's four measure rows say so);
- shares (share_incl_hard_to_say): the weighted bases W and numerators S of every cell are unknown,
  additive over the sets, W within the cell's count bounds times the wave's range of weights (the true
  range, which the intruder may not know: a stronger intruder), S / W within the published share's
  rounding; the range of a withheld share S_s / W_s by the Charnes-Cooper transformation.

A range narrower than seed disclosure_rules' protection_min_count_range (5 respondents) or
protection_min_share_range (0.10) is a finding; a count pinned to one value equal to the truth is a
recovered value. Every constraint is checked against the truth, and an infeasible program is a failed
solve, never "protected". Speed: a cell is first solved on the sub-problem of the cells within one,
then two linked sets of it, every other cell fixed at its true value (a subset of the feasible set, so
a range that is wide there is wide in full); a narrow one is solved again in full."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy import optimize

from .published import Published, incomplete_regions, linked_sets, regions_of
from .scoring import AttackResult, Finding, count_hit
from .truth import CELL, Truth


def count_bounds(pub: Published, four_from: float | None):
    """One row per cell (its share_incl_hard_to_say row): bounds on its respondents asked."""
    e = pub.est
    rows = e.groupby(CELL).agg(n_lo=("n_lo", "max"), n_hi=("n_hi", "min"), suppressed=("is_suppressed", "all"),
                               n_rows=("measure", "size")).reset_index()
    least = np.where((rows["n_rows"] == 4) & (four_from is not None), four_from or 1.0, 1.0)
    rows.loc[rows["suppressed"], "n_lo"] = least[rows["suppressed"].to_numpy()]
    rows.loc[rows["suppressed"], "n_hi"] = np.inf
    return rows


def _matrices(sets, n):
    eq = [s for s in sets if s[2]]
    ge = [s for s in sets if not s[2]]
    M_eq, M_ge = np.zeros((len(eq), n)), np.zeros((len(ge), n))
    for M, group in ((M_eq, eq), (M_ge, ge)):
        for k, (total, members, _) in enumerate(group):
            M[k, total] = 1.0
            M[k, members] = -1.0
    sets_of = defaultdict(list)
    for k, (total, members, _) in enumerate(sets):
        for m in [total] + members:
            sets_of[m].append(k)
    return M_eq, M_ge, [s[2] for s in sets], sets_of


def _neighbourhood(i: int, sets: list, sets_of: dict, hops: int = 2) -> set:
    seen, frontier = {i}, {i}
    for _ in range(hops):
        nxt = set()
        for c in frontier:
            for si in sets_of[c]:
                total, members, _ = sets[si]
                nxt.update(m for m in [total] + members if m not in seen)
        seen |= nxt
        frontier = nxt
    return seen


def _lp(c, bounds, A_eq=None, b_eq=None, A_ub=None, b_ub=None):
    """(status, objective): status 0 optimal, 2 infeasible, 3 unbounded."""
    A_eq = None if A_eq is not None and not len(A_eq) else A_eq
    A_ub = None if A_ub is not None and not len(A_ub) else A_ub
    res = optimize.linprog(c, A_ub=A_ub, b_ub=None if A_ub is None else b_ub, A_eq=A_eq,
                           b_eq=None if A_eq is None else b_eq, bounds=bounds, method="highs")
    return res.status, (res.fun if res.status == 0 else None), res.x


def _check_truth(res: AttackResult, what, lo, hi, true, M_eq, M_ge, keys):
    known = ~np.isnan(true)
    bad = [(keys[i], lo[i], hi[i], true[i]) for i in np.flatnonzero(known & ((true < lo - 1e-9) | (true > hi + 1e-9)))]
    res.check_many(f"{what}: true value within the published bounds", int(known.sum()), bad[:5] + [None] * max(0, len(bad) - 5))
    for M, name, ok_fn in ((M_eq, "total = sum of members", lambda r: np.abs(r) < 1e-6 * max(1.0, np.nanmax(np.abs(true)))),
                           (M_ge, "total >= sum of members", lambda r: r > -1e-6)):
        if not len(M):
            continue
        usable = ~np.isnan(M @ np.nan_to_num(true, nan=np.nan)) if False else np.array(
            [not np.isnan(true[np.flatnonzero(row)]).any() for row in M])
        r = M[usable] @ np.nan_to_num(true)
        bad = np.flatnonzero(~ok_fn(r))
        res.check_many(f"{what}: {name} (truth)", int(usable.sum()), [tuple(r[b:b + 1]) for b in bad[:5]]
                       + [None] * max(0, len(bad) - 5))


def lp_count_ranges(pub: Published, truth: Truth, min_range: float, four_from: float | None = None,
                    stop_after: int = 50) -> AttackResult:
    res = AttackResult("A3 linked tables, counts (LP)", pub.name)
    region_of, incomplete = regions_of(pub), incomplete_regions(pub)
    bounds = count_bounds(pub, four_from)
    solves = 0
    for (ind, wave), cells in bounds.groupby(["indicator_code", "wave_year"]):
        cells = cells.reset_index(drop=True)
        n = len(cells)
        sets = linked_sets(cells, region_of, incomplete.get(int(wave), set()))
        M_eq, M_ge, _, sets_of = _matrices(sets, n)
        keys = [tuple(r) for r in cells[CELL].itertuples(index=False)]
        true_n = np.array([np.nan if truth.cell(k) is None else float(truth.cell(k)["A"]) for k in keys])
        lo, hi = cells["n_lo"].to_numpy(dtype=float), cells["n_hi"].to_numpy(dtype=float)
        _check_truth(res, "counts", lo, hi, true_n, M_eq, M_ge, keys)
        hi_lp = np.where(np.isinf(hi), None, hi)

        def solve(i, variables):
            nonlocal solves
            var = np.array(sorted(variables))
            fixed = np.setdiff1d(np.arange(n), var)
            A_eq, b_eq = M_eq[:, var], -(M_eq[:, fixed] @ np.nan_to_num(true_n[fixed]))
            A_ub, b_ub = M_ge[:, var] * -1.0, M_ge[:, fixed] @ np.nan_to_num(true_n[fixed])
            keep_eq, keep_ub = np.abs(A_eq).sum(axis=1) > 0, np.abs(A_ub).sum(axis=1) > 0
            c = np.zeros(len(var))
            c[np.searchsorted(var, i)] = 1.0
            bnds = np.column_stack([lo[var], hi_lp[var]])
            out = []
            for sign in (-1.0, 1.0):
                solves += 1
                status, fun, _ = _lp(sign * c, bnds, A_eq[keep_eq], b_eq[keep_eq], A_ub[keep_ub], b_ub[keep_ub])
                if status == 2:
                    res.failures.append(f"infeasible count LP for {keys[i]}")
                    return None, None
                out.append(np.inf if status == 3 else sign * fun)
                if sign < 0 and out[0] - true_n[i] >= min_range:
                    return true_n[i] - min_range, out[0]  # wide enough without the minimum
            return out[1], out[0]

        todo = [i for i in np.flatnonzero(cells["suppressed"].to_numpy()) if not np.isnan(true_n[i])]
        todo = _batch_certify(todo, true_n, min_range, lambda caps_lo, caps_hi, sign, idx: _extreme_point(
            sign, idx, M_eq, M_ge, lo, hi, caps_lo, caps_hi))
        todo += [i for i in np.flatnonzero(cells["suppressed"].to_numpy()) if np.isnan(true_n[i])]
        for i in todo:
            for hops in ((2, None) if not np.isnan(true_n).any() else (None,)):
                near = set(range(n)) if hops is None else _neighbourhood(i, sets, sets_of, hops)
                low, high = solve(i, near)
                if low is None or high - low >= min_range:
                    break
            if low is None:
                continue
            if high - low < min_range:
                res.narrow.append((keys[i], low, high, true_n[i]))
            if abs(high - low) < 1e-6:
                f = Finding(res.attack, keys[i] + ("suppressed",), "A", round(low))
                res.claims.append(f)
                if count_hit(f, truth.cell(keys[i])):
                    res.hits.append(f)
            if len(res.narrow) >= stop_after:
                res.stats["stopped after"] = stop_after
                return res
    res.stats["LP solves"] = solves
    return res


def _extreme_point(sign, idx, M_eq, M_ge, lo, hi, caps_lo, caps_hi):
    """A feasible point pushing the cells idx up (sign -1) or down (+1), each capped (so the program is
    bounded): one LP for many cells."""
    lo2, hi2 = lo.copy(), hi.copy()
    lo2[idx], hi2[idx] = np.maximum(lo[idx], caps_lo), np.minimum(hi[idx], caps_hi)
    if (lo2 > hi2).any():
        return None
    c = np.zeros(len(lo))
    c[idx] = sign
    status, _, x = _lp(c, np.column_stack([lo2, np.where(np.isinf(hi2), None, hi2)]), M_eq, np.zeros(len(M_eq)),
                       -M_ge, np.zeros(len(M_ge)))
    return x if status == 0 else None


def _batch_certify(todo, truth_value, min_range, point):
    """Cells whose range is wide because one feasible point already puts them `min_range` above (or
    below) their true value: found a few at a time with one LP per round; the rest is returned."""
    todo = list(todo)
    for sign in (-1.0, 1.0):
        for _ in range(4):
            if not todo:
                return todo
            idx = np.array(todo)
            target = truth_value[idx] - sign * (min_range[idx] if np.ndim(min_range) else min_range)
            caps = (np.full(len(idx), -np.inf), target) if sign < 0 else (target, np.full(len(idx), np.inf))
            x = point(caps[0], caps[1], sign, idx)
            if x is None:
                break
            done = {i for i, v, t in zip(idx, x[idx], target) if (v >= t - 1e-7 if sign < 0 else v <= t + 1e-7)}
            if not done:
                break
            todo = [i for i in todo if i not in done]
    return todo


def lp_share_ranges(pub: Published, truth: Truth, min_range: float, four_from: float | None = None,
                    min_n: float = 10, stop_after: int = 50) -> AttackResult:
    res = AttackResult("A3 linked tables, shares (LP)", pub.name)
    region_of, incomplete = regions_of(pub), incomplete_regions(pub)
    tol = pub.share_tol
    measure = "share_incl_hard_to_say"
    e = pub.est[pub.est["measure"] == measure]
    bounds = count_bounds(pub, four_from)
    solves = 0
    for (ind, wave), cells in e.groupby(["indicator_code", "wave_year"]):
        cells = cells.reset_index(drop=True).merge(bounds, on=CELL, suffixes=("", "_c"))
        n = len(cells)
        wr = truth.weights.set_index("wave_year").loc[wave]
        wmin, wmax = float(wr["wmin"]), float(wr["wmax"])
        sets = linked_sets(cells, region_of, incomplete.get(int(wave), set()))
        M_eq, M_ge, exact, sets_of = _matrices(sets, n)
        published = ~cells["is_suppressed"].astype(bool).to_numpy()
        p = cells["estimate"].to_numpy(dtype=float)
        # respondents answering incl. "hard to say" (the share's base): exact where published per measure,
        # else at least min_n in a published cell (>= min_n with an opinion) and 1 in a withheld one
        base = cells["base_lo"].to_numpy(dtype=float)
        blo = np.where(published, np.where(np.isnan(base), min_n, base), 1.0)
        bhi = np.where(published & ~np.isnan(base), base, cells["n_hi_c"].to_numpy(dtype=float))
        keys = [tuple(r) for r in cells[CELL].itertuples(index=False)]
        tcells = [truth.cell(k) for k in keys]
        S_true = np.array([np.nan if t is None else t["wT"] for t in tcells])
        W_true = np.array([np.nan if t is None else t["wB"] for t in tcells])
        B_true = np.array([np.nan if t is None else t["B"] for t in tcells])
        _check_truth(res, "weighted bases", wmin * blo, wmax * bhi, W_true, M_eq, M_ge, keys)
        _check_truth(res, "base counts", blo, bhi, B_true, M_eq, M_ge, keys)
        _check_truth(res, "weighted numerators", np.zeros(n), W_true, S_true, M_eq, M_ge, keys)
        sh = np.where(published, S_true / W_true, np.nan)
        bad = [keys[j] for j in np.flatnonzero(published & (np.abs(sh - p) > tol))]
        res.check_many("published share = S / W within the rounding (truth)", int(published.sum()), bad[:5])

        def solve(s_, variables):
            nonlocal solves
            var = np.array(sorted(variables))
            k = len(var)
            pos = np.searchsorted(var, s_)
            fixed = np.setdiff1d(np.arange(n), var)
            nv = 2 * k + 1  # S (k), W (k), t
            A_eq, b_eq, A_ub = [], [], []
            for M, is_eq in ((M_eq, True), (M_ge, False)):
                for row_ in M:
                    if not np.abs(row_[var]).sum():
                        continue
                    for off, true in ((0, S_true), (k, W_true)):
                        row = np.zeros(nv)
                        row[off:off + k] = row_[var]
                        row[-1] = row_[fixed] @ np.nan_to_num(true[fixed])
                        (A_eq if is_eq else A_ub).append(row if is_eq else -row)
                        if is_eq:
                            b_eq.append(0.0)
            row = np.zeros(nv); row[k + pos] = 1.0
            A_eq.append(row); b_eq.append(1.0)  # W_s t = 1
            for a, j in enumerate(var):
                row = np.zeros(nv); row[a] = 1; row[k + a] = -1; A_ub.append(row)              # S <= W
                row = np.zeros(nv); row[k + a] = -1; row[-1] = wmin * blo[j]; A_ub.append(row)  # W >= wmin b_lo
                if np.isfinite(bhi[j]):
                    row = np.zeros(nv); row[k + a] = 1; row[-1] = -wmax * bhi[j]; A_ub.append(row)
                if published[j]:
                    row = np.zeros(nv); row[a] = 1; row[k + a] = -(p[j] + tol); A_ub.append(row)
                    row = np.zeros(nv); row[a] = -1; row[k + a] = p[j] - tol; A_ub.append(row)
            A_ub = np.array(A_ub)
            c = np.zeros(nv); c[pos] = 1.0
            bnds = [(0, None)] * nv
            out = []
            for sign in (-1.0, 1.0):
                solves += 1
                status, fun, _ = _lp(sign * c, bnds, np.array(A_eq), np.array(b_eq), A_ub, np.zeros(len(A_ub)))
                if status == 2:
                    res.failures.append(f"infeasible share LP for {keys[s_]}")
                    return None, None
                out.append(1.0 if status == 3 else sign * fun)
                if sign < 0 and out[0] - true_p >= min_range:
                    return true_p - min_range, out[0]
            return out[1], out[0]

        s_lo = np.where(published, np.maximum(0, (p - tol) * W_true), 0.0)
        s_hi = np.where(published, np.minimum(W_true, (p + tol) * W_true), W_true)
        todo = [j for j in np.flatnonzero(~published) if tcells[j] is not None]
        if not np.isnan(W_true).any():
            todo = _batch_certify(todo, S_true, min_range * W_true, lambda caps_lo, caps_hi, sign, idx: _extreme_point(
                sign, idx, M_eq, M_ge, s_lo, s_hi, caps_lo, caps_hi))
        for s_ in todo:
            true_p = tcells[s_][measure]
            for hops in ((2, None) if not np.isnan(W_true).any() else (None,)):
                near = set(range(n)) if hops is None else _neighbourhood(s_, sets, sets_of, hops)
                low, high = solve(s_, near)
                if low is None or high - low >= min_range:
                    break
            if low is not None and high - low < min_range:
                res.narrow.append((keys[s_], round(low, 4), round(high, 4), round(true_p, 4)))
                if high - low <= 2 * 0.005:
                    f = Finding(res.attack, keys[s_] + (measure, "suppressed"), "share", (low + high) / 2)
                    res.claims.append(f)
                    if abs(f.value - true_p) <= 0.005 + 1e-9:
                        res.hits.append(f)
                if len(res.narrow) >= stop_after:
                    res.stats["stopped after"] = stop_after
                    return res
    res.stats["LP solves"] = solves
    return res
