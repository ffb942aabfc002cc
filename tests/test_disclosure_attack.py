"""An adversary with the published snapshot (and public reference data) attacks it; the warehouse
scores what she found (README "Indicators, estimation and disclosure control", issue 13).

The attacker reads only the snapshot's tables, the documentation (how the intervals and the 2025
raking are computed) and public population figures (the reference seeds). She runs:

  A1 effective-n / equal-weight inversion: in a raked wave the weights are one value per region x
     sex (raking cells); she rebuilds them by raking the published region x sex counts to the public
     margins, then, for every small municipality, searches all splits into women and men and all
     numerators that reproduce every published figure of the municipality and its sex cells
     (count, share, effective n, interval) - and of a published equal-weight cell its own counts;
  A2 model-error inversion: solves the published model errors of mart_trust_comparisons for the
     sampling variances (Prasad-Rao MSE, with the published covariates), i.e. the effective n of
     municipalities whose direct cell is suppressed;
  A3 linked tables + LP interval attack: for every indicator and wave, one linear program over all
     tables that share cells (geography x subgroup, with every published count or band), minimising
     and maximising each suppressed cell's respondent count (scipy.optimize.linprog, HiGHS); and for
     the headline share, the range of each suppressed share given every published share and count
     (weighted totals unknown within the published counts and the wave's range of weights;
     Charnes-Cooper linear-fractional program);
  A4 differencing of counts: the count of one base minus another of the same cell ("hard to say",
     refusals), and of sets of cells;
  A5 group disclosure: published shares of exactly 0 or 1, and shares that imply one ("with an
     opinion" = "incl. hard to say" means nobody said "hard to say").

It passes only if no suppressed value and no count of 1-9 respondents is recovered exactly, no
0 %/100 % group is disclosed, and every feasible range is at least as wide as the rule in seed
disclosure_rules (protection_min_count_range, protection_min_share_range).

`TRUST_ATTACK_SNAPSHOT` / `TRUST_ATTACK_WAREHOUSE` point the attack at another build (how it was
shown to fail on the code before issue 13: README).
"""
from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from ingest.settings import DBT_SEED_DIR

CELL = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]
BASE_OF = {  # which truth count is the base of each measure
    "share_all_asked": "A", "share_incl_hard_to_say": "B", "share_with_opinion": "C", "hard_to_say_share": "B"}


def rules() -> dict:
    with (DBT_SEED_DIR / "disclosure_rules.csv").open(encoding="utf-8") as fh:
        return {r["rule"]: float(r["value"]) for r in csv.DictReader(fh)}


# --- the truth, computed here from the respondent facts of the warehouse ------------------------

def truth_cells(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        answers = con.execute(
            """select a.respondent_key, a.wave_year, a.item_code, a.harmonised_value, a.missing_reason,
                      r.current_municipality_code, r.region_2009_2023, r.sex, r.age_band, r.is_client, r.weight
               from marts.fct_survey_answers a join marts.fct_respondent r using (respondent_key)
               where a.harmonised_value is not null or a.missing_reason in ('hard_to_say', 'refused')""").df()
        units = con.execute(
            """select municipality_code, region_2009_2023 from marts.dim_municipality
               where boundary_set = (select boundary_set from reference.boundary_sets where valid_to is null)""").df()
        indicators = con.execute("select * from reference.indicators").df()
    region_of = dict(zip(units["municipality_code"], units["region_2009_2023"]))
    frames = []
    for ind in indicators.itertuples():
        numerator = {int(v) for v in str(ind.numerator_values).split(";")}
        d = answers[answers["item_code"] == ind.item_code].copy()
        if ind.population == "clients":
            d = d[d["is_client"]]
        d["indicator_code"] = ind.indicator_code
        d["population"] = ind.population
        d["T"] = d["harmonised_value"].isin(numerator).astype(int)
        d["C"] = d["harmonised_value"].notna().astype(int)
        d["H"] = (d["missing_reason"] == "hard_to_say").astype(int)
        d["R"] = (d["missing_reason"] == "refused").astype(int)
        frames.append(d)
    d = pd.concat(frames, ignore_index=True)
    d["region"] = d["current_municipality_code"].map(region_of).fillna(d["region_2009_2023"])
    d["client_status"] = np.where(d["is_client"], "client", "non_client")
    d["B"] = 1 - d["R"]
    d["w"] = d["weight"].astype(float)
    for col, base in (("wB", "B"), ("wC", "C"), ("wT", "T"), ("wH", "H")):
        d[col] = d["w"] * d[base]
    d["w2B"] = d["w"] ** 2 * d["B"]
    geos = [d.assign(geo_level="national", geo_code="LV"),
            d[d["region"].notna()].assign(geo_level="region", geo_code=lambda x: x["region"]),
            d[d["current_municipality_code"].notna()].assign(geo_level="municipality",
                                                              geo_code=lambda x: x["current_municipality_code"])]
    g = pd.concat(geos, ignore_index=True)
    subs = [g.assign(subgroup_type="all", subgroup_value="all"),
            g[g["population"] == "residents"].assign(subgroup_type="client_status",
                                                     subgroup_value=lambda x: x["client_status"]),
            g[g["sex"].notna()].assign(subgroup_type="sex", subgroup_value=lambda x: x["sex"]),
            g[g["age_band"].notna()].assign(subgroup_type="age_band", subgroup_value=lambda x: x["age_band"])]
    s = pd.concat(subs, ignore_index=True)
    s["A"] = 1
    agg = s.groupby(CELL).agg(A=("A", "sum"), B=("B", "sum"), C=("C", "sum"), T=("T", "sum"), H=("H", "sum"),
                              R=("R", "sum"), w=("w", "sum"), wB=("wB", "sum"), wC=("wC", "sum"), wT=("wT", "sum"),
                              wH=("wH", "sum"), w2B=("w2B", "sum"), wmin=("w", "min"), wmax=("w", "max")).reset_index()
    agg["share_all_asked"] = agg["wT"] / agg["w"]
    agg["share_incl_hard_to_say"] = agg["wT"] / agg["wB"]
    agg["share_with_opinion"] = agg["wT"] / agg["wC"]
    agg["hard_to_say_share"] = agg["wH"] / agg["wB"]
    agg["kish_n_eff"] = agg["wB"] ** 2 / agg["w2B"]
    return agg


@dataclass
class Truth:
    cells: pd.DataFrame
    weights: pd.DataFrame  # wave_year, weight min/max
    raked: pd.DataFrame    # wave_year, region, sex, weight (raked waves)

    def cell(self, key) -> dict | None:
        return self.index.get(tuple(key))

    def __post_init__(self):
        self.index = {tuple(r[c] for c in CELL): r for r in self.cells.to_dict("records")}


def load_truth(warehouse: Path) -> Truth:
    cells = truth_cells(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        weights = con.execute("select wave_year, min(weight) as wmin, max(weight) as wmax from marts.fct_respondent "
                              "group by 1").df()
        raked = con.execute("""select r.wave_year, m.region_2009_2023 as region, r.sex, min(r.weight) as weight,
                                      max(r.weight) - min(r.weight) as spread
                               from marts.fct_respondent r join marts.dim_municipality m
                                 on m.municipality_code = r.municipality_code_delivered
                                and m.boundary_set = r.municipality_boundary_set
                               where r.weight_source = 'raked' group by all""").df()
    return Truth(cells, weights, raked)


# --- what the attacker reads ---------------------------------------------------------------------

@dataclass
class Published:
    est: pd.DataFrame        # mart_indicator_estimates with n_lo / n_hi (count bounds) and exact flags
    tables: dict
    rounded: bool            # shares published rounded to 0.01
    exact_counts: bool       # counts published exactly (per measure)


def load_published(snapshot: Path) -> Published:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        names = [r[0] for r in con.execute("show tables").fetchall()]
        tables = {n: con.execute(f'select * from "{n}"').df() for n in names}
    est = tables["mart_indicator_estimates"].copy()
    if "n_unweighted" in est.columns:  # counts published exactly, per measure (the code before issue 13)
        est["n_lo"] = est["n_unweighted"].astype(float)
        est["n_hi"] = est["n_unweighted"].astype(float)
        exact = True
    else:  # counts in bands, one per cell (all asked)
        est["n_lo"] = est["n_band_low"].astype(float)
        est["n_hi"] = est["n_band_high"].astype(float).fillna(np.inf)
        exact = False
    values = est["estimate"].dropna().to_numpy()
    rounded = bool(len(values)) and bool(np.all(np.abs(values * 100 - np.round(values * 100)) < 1e-9))
    return Published(est, tables, rounded, exact)


@dataclass
class Finding:
    attack: str
    key: tuple
    what: str      # "A", "B", "C", "T", "H", "R" count, "share", "n_eff", "group"
    value: float   # what the attacker claims


def score(findings: list[Finding], truth: Truth, *, count_limit: int = 9) -> list[Finding]:
    """The findings that are true disclosures: a claimed count of 1-`count_limit` respondents (or a
    suppressed cell's count or share) that equals the truth, or a true 0 %/100 % group."""
    hits = []
    for f in findings:
        row = truth.cell(f.key[:6])
        if row is None:
            continue
        if f.what in ("A", "B", "C", "T", "H", "R"):
            if round(f.value) == row[f.what] and (f.key[-1] == "suppressed" or 1 <= row[f.what] <= count_limit):
                hits.append(f)
        elif f.what == "n_eff":
            if abs(f.value - row["kish_n_eff"]) <= 1e-6 * row["kish_n_eff"]:
                hits.append(f)
        elif f.what == "share":
            if abs(f.value - row["share_incl_hard_to_say"]) <= 1e-9:
                hits.append(f)
        elif f.what == "group" and f.value:
            hits.append(f)
    return hits


# --- A4 differencing of counts, A5 group disclosure -------------------------------------------

def attack_differencing(pub: Published) -> list[Finding]:
    """Two bases of one cell: all asked - with refusals out = refusals; incl. "hard to say" - with
    an opinion = "hard to say". Exact only where both counts are exact."""
    out = []
    e = pub.est[~pub.est["is_suppressed"]]
    by_cell = {k: g.set_index("measure") for k, g in e.groupby(CELL)}
    pairs = [("share_incl_hard_to_say", "share_with_opinion", "H"), ("share_all_asked", "share_incl_hard_to_say", "R")]
    for key, g in by_cell.items():
        for big, small, what in pairs:
            if big in g.index and small in g.index:
                lo = g.at[big, "n_lo"] - g.at[small, "n_hi"]
                hi = g.at[big, "n_hi"] - g.at[small, "n_lo"]
                if lo == hi and 1 <= lo <= 9:
                    out.append(Finding("A4 differencing", tuple(key) + ("published",), what, lo))
    return out


def attack_group(pub: Published, truth: Truth) -> list[Finding]:
    """Published shares of 0 or 1, and shares equal across bases (nobody said "hard to say")."""
    out = []
    e = pub.est[~pub.est["is_suppressed"]]
    for r in e[(e["estimate"] == 0) | (e["estimate"] == 1)].itertuples():
        key = tuple(getattr(r, c) for c in CELL)
        row = truth.cell(key)
        if row is None:
            continue
        num, base = (row["H"], row["B"]) if r.measure == "hard_to_say_share" else (row["T"], row[BASE_OF[r.measure]])
        out.append(Finding("A5 group", key + (r.measure,), "group", num in (0, base)))
    wide = e.pivot_table(index=CELL, columns="measure", values="estimate", aggfunc="first")
    if {"share_incl_hard_to_say", "share_with_opinion"} <= set(wide.columns):
        same = wide[wide["share_incl_hard_to_say"] == wide["share_with_opinion"]]
        for key in same.index:
            row = truth.cell(key)
            if row is not None:
                out.append(Finding("A5 group (derived: nobody said hard to say)", tuple(key) + ("derived",), "group",
                                   row["H"] == 0))
    return out


# --- A3 linked tables: LP over all tables sharing cells --------------------------------------------

def linked_sets(cells: pd.DataFrame, region_of: dict) -> list[tuple[int, list[int]]]:
    """(total, members) row positions of every additive set within one indicator x wave."""
    idx = {tuple(r): i for i, r in enumerate(cells[["geo_level", "geo_code", "subgroup_type", "subgroup_value"]]
                                              .itertuples(index=False))}
    sets = []
    groups = defaultdict(list)
    for (level, code, stype, svalue), i in idx.items():
        if stype != "all":
            groups[("sub", level, code, stype)].append(i)
        if level == "municipality" and region_of.get(code):
            groups[("geo", "region", region_of[code], stype, svalue)].append(i)
        if level == "region":
            groups[("geo", "national", "LV", stype, svalue)].append(i)
    for gk, members in groups.items():
        if gk[0] == "sub":
            total = idx.get((gk[1], gk[2], "all", "all"))
        else:
            total = idx.get((gk[1], gk[2], gk[3], gk[4]))
        if total is not None:
            sets.append((total, members))
    return sets


def regions_of(pub: Published) -> dict:
    """Region of each municipality of the boundary set the estimates are published on."""
    dim = pub.tables["dim_municipality"]
    codes = set(pub.est.loc[pub.est["geo_level"] == "municipality", "geo_code"])
    best = max(dim["boundary_set"].unique(), key=lambda b: len(codes & set(dim.loc[dim["boundary_set"] == b,
                                                                                    "municipality_code"])))
    current = dim[dim["boundary_set"] == best]
    return dict(zip(current["municipality_code"], current["region_2009_2023"]))


def count_bounds(pub: Published) -> pd.DataFrame:
    """One row per cell: the attacker's bounds on its respondent count (exact, band or, when
    suppressed, at least 1)."""
    e = pub.est
    if pub.exact_counts:
        e = e[e["measure"] == "share_incl_hard_to_say"]
    cells = e.groupby(CELL).agg(n_lo=("n_lo", "max"), n_hi=("n_hi", "min"),
                                suppressed=("is_suppressed", "all")).reset_index()
    cells.loc[cells["suppressed"], ["n_lo", "n_hi"]] = [1.0, np.inf]
    return cells


def _neighbourhood(i: int, sets: list, sets_of: dict, hops: int = 2) -> set:
    seen, frontier = {i}, {i}
    for _ in range(hops):
        nxt = set()
        for c in frontier:
            for si in sets_of[c]:
                total, members = sets[si]
                nxt.update(m for m in [total] + members if m not in seen)
        seen |= nxt
        frontier = nxt
    return seen


def _extreme(c, A_eq, b_eq, lo, hi, A_ub=None, b_ub=None):
    res = optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=np.column_stack([lo, hi]),
                           method="highs")
    return res.fun if res.status == 0 else None


def _extreme_point(sign, idx, M, lo, hi, caps_lo, caps_hi):
    """A feasible point of {M x = 0, lo <= x <= hi} pushing the cells idx up (sign -1) or down (+1),
    each capped at caps (so the program is bounded): one LP for many cells."""
    lo2, hi2 = lo.copy(), hi.copy()
    lo2[idx], hi2[idx] = np.maximum(lo[idx], caps_lo), np.minimum(hi[idx], caps_hi)
    c = np.zeros(len(lo))
    c[idx] = sign
    res = optimize.linprog(c, A_eq=M, b_eq=np.zeros(M.shape[0]),
                           bounds=np.column_stack([lo2, np.where(np.isinf(hi2), None, hi2)]), method="highs")
    return res.x if res.status == 0 else None


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


def lp_count_ranges(pub: Published, truth: Truth, min_range: float,
                    stop_after: int = 50) -> tuple[list[Finding], list[tuple]]:
    """For every suppressed cell: min and max of its count over all counts consistent with every
    published count of the indicator and wave and every additive relation between cells.

    Speed: each cell is first solved on the sub-problem of the cells within one (then two) linked
    sets of it, every other cell fixed at its true count - a subset of the feasible set, so a range
    that is wide there is wide in the full problem; only a range that comes out narrow is solved
    again on a larger one, and finally in full."""
    region_of = regions_of(pub)
    bounds = count_bounds(pub)
    findings, narrow = [], []
    truth_count = "B" if pub.exact_counts else "A"
    for (ind, wave), cells in bounds.groupby(["indicator_code", "wave_year"]):
        cells = cells.reset_index(drop=True)
        n = len(cells)
        sets = linked_sets(cells, region_of)
        sets_of = defaultdict(list)
        M = np.zeros((len(sets), n))
        for k, (total, members) in enumerate(sets):
            for m in [total] + members:
                sets_of[m].append(k)
            M[k, total] = 1.0
            M[k, members] = -1.0
        keys = [tuple(r) for r in cells[CELL].itertuples(index=False)]
        true_n = np.array([np.nan if truth.cell(k) is None else float(truth.cell(k)[truth_count]) for k in keys])
        lo, hi = cells["n_lo"].to_numpy(dtype=float), cells["n_hi"].to_numpy(dtype=float)
        hi_lp = np.where(np.isinf(hi), None, hi)

        def solve(i, variables):
            """(min, max) of x_i with the cells outside `variables` fixed at their true counts."""
            var = np.array(sorted(variables))
            rows = sorted({k for j in var for k in sets_of[j]})
            fixed = np.setdiff1d(np.arange(n), var)
            A = M[np.ix_(rows, var)] if rows else None
            b = -(M[np.ix_(rows, fixed)] @ true_n[fixed]) if rows else None
            c = np.zeros(len(var))
            c[np.searchsorted(var, i)] = 1.0
            high = _extreme(-c, A, b, lo[var], hi_lp[var])
            high = np.inf if high is None else -high
            if high - true_n[i] >= min_range:  # min <= truth: wide enough without the minimum
                return None, high
            low = _extreme(c, A, b, lo[var], hi_lp[var])
            return (1.0 if low is None else low), high

        todo = [i for i in np.flatnonzero(cells["suppressed"].to_numpy()) if not np.isnan(true_n[i])]
        todo = _batch_certify(todo, true_n, min_range, lambda caps_lo, caps_hi, sign, idx: _extreme_point(
            sign, idx, M, lo, hi, caps_lo, caps_hi))
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
                narrow.append((keys[i], low, high, true_n[i]))
            if abs(high - low) < 1e-6:
                findings.append(Finding("A3 linked tables (LP)", keys[i] + ("suppressed",), truth_count, low))
            if len(narrow) >= stop_after:  # the test has failed: no need to audit every cell
                return findings, narrow
    return findings, narrow


def lp_share_ranges(pub: Published, truth: Truth, min_range: float, stop_after: int = 50):
    """Feasible range of each suppressed share: weighted bases W and numerators S of all cells of the
    indicator and wave are unknown, additive over linked tables, W within the published count times
    the wave's range of weights, S/W within the published (rounded) share. max/min S_s / W_s by the
    Charnes-Cooper transformation: variables y = t (S, W) and t = 1 / W_s, every constraint
    homogenised with t. As for the counts, first with the cells beyond one, then two linked sets
    fixed at their true weighted totals, then in full where the range comes out narrow."""
    region_of = regions_of(pub)
    tol = 0.005 + 1e-9 if pub.rounded else 1e-9
    # the share whose base the published count bounds: all asked (bands) or the exact per-measure n
    measure = "share_incl_hard_to_say" if pub.exact_counts else "share_all_asked"
    true_w = "wB" if pub.exact_counts else "w"
    e = pub.est[pub.est["measure"] == measure]
    bounds = count_bounds(pub)
    narrow = []
    for (ind, wave), cells in e.groupby(["indicator_code", "wave_year"]):
        cells = cells.reset_index(drop=True).merge(bounds, on=CELL, suffixes=("", "_c"))
        n = len(cells)
        wr = truth.weights.set_index("wave_year").loc[wave]
        wmin, wmax = float(wr["wmin"]), float(wr["wmax"])
        sets = linked_sets(cells, region_of)
        sets_of = defaultdict(list)
        M = np.zeros((len(sets), n))
        for k, (total, members) in enumerate(sets):
            for m in [total] + members:
                sets_of[m].append(k)
            M[k, total] = 1.0
            M[k, members] = -1.0
        published = ~cells["is_suppressed"].to_numpy()
        p = cells["estimate"].to_numpy(dtype=float)
        nlo, nhi = np.maximum(cells["n_lo_c"].to_numpy(dtype=float), 1.0), cells["n_hi_c"].to_numpy(dtype=float)
        keys = [tuple(r) for r in cells[CELL].itertuples(index=False)]
        tcells = [truth.cell(k) for k in keys]
        S_true = np.array([np.nan if t is None else t["wT"] for t in tcells])
        W_true = np.array([np.nan if t is None else t[true_w] for t in tcells])

        def solve(s_, variables):
            var = np.array(sorted(variables))
            k = len(var)
            pos = np.searchsorted(var, s_)
            rows = sorted({r for j in var for r in sets_of[j]})
            fixed = np.setdiff1d(np.arange(n), var)
            nv = 2 * k + 1  # S (k), W (k), t
            A_eq, b_eq = [], []
            for r in rows:
                for off, true in ((0, S_true), (k, W_true)):
                    row = np.zeros(nv)
                    row[off:off + k] = M[r, var]
                    row[-1] = M[r, fixed] @ true[fixed]
                    A_eq.append(row); b_eq.append(0.0)
            row = np.zeros(nv); row[k + pos] = 1.0
            A_eq.append(row); b_eq.append(1.0)  # W_s t = 1
            A_ub = []
            for a, j in enumerate(var):
                row = np.zeros(nv); row[a] = 1; row[k + a] = -1; A_ub.append(row)             # S <= W
                row = np.zeros(nv); row[k + a] = -1; row[-1] = wmin * nlo[j]; A_ub.append(row)  # W >= wmin n_lo
                if np.isfinite(nhi[j]):
                    row = np.zeros(nv); row[k + a] = 1; row[-1] = -wmax * nhi[j]; A_ub.append(row)
                if published[j]:
                    row = np.zeros(nv); row[a] = 1; row[k + a] = -(p[j] + tol); A_ub.append(row)
                    row = np.zeros(nv); row[a] = -1; row[k + a] = p[j] - tol; A_ub.append(row)
            A_ub, b_ub = np.array(A_ub), np.zeros(len(A_ub))
            A_eq, b_eq = np.array(A_eq), np.array(b_eq)
            c = np.zeros(nv); c[pos] = 1.0
            lo, hi = np.zeros(nv), np.full(nv, None)
            high = _extreme(-c, A_eq, b_eq, lo, hi, A_ub, b_ub)
            high = 1.0 if high is None else -high
            if high - true_p >= min_range:
                return None, high
            low = _extreme(c, A_eq, b_eq, lo, hi, A_ub, b_ub)
            return (0.0 if low is None else low), high

        # one LP certifies many cells: weighted bases fixed at their true values (a subset of the
        # feasible set), numerators pushed up or down together
        s_lo = np.where(published, np.maximum(0, (p - tol) * W_true), 0.0)
        s_hi = np.where(published, np.minimum(W_true, (p + tol) * W_true), W_true)
        todo = [j for j in np.flatnonzero(~published) if tcells[j] is not None]
        if not np.isnan(W_true).any():
            todo = _batch_certify(todo, S_true, min_range * W_true, lambda caps_lo, caps_hi, sign, idx: _extreme_point(
                sign, idx, M, s_lo, s_hi, caps_lo, caps_hi))
        for s_ in todo:
            true_p = tcells[s_][measure]
            for hops in ((2, None) if not np.isnan(W_true).any() else (None,)):
                near = set(range(n)) if hops is None else _neighbourhood(s_, sets, sets_of, hops)
                low, high = solve(s_, near)
                if low is None or high - low >= min_range:
                    break
            if low is not None and high - low < min_range:
                narrow.append((keys[s_], low, high, true_p))
                if len(narrow) >= stop_after:  # the test has failed: no need to audit every cell
                    return narrow
    return narrow


# --- A1 effective-n / equal-weight inversion in a raked wave ---------------------------------------

def rake_region_sex(counts: pd.DataFrame) -> dict:
    """The documented raking (region x sex margins of the public population) on region x sex counts."""
    with (DBT_SEED_DIR / "reference" / "ref_municipalities_2021.csv").open(encoding="utf-8") as fh:
        units = list(csv.DictReader(fh))
    region_pop = defaultdict(float)
    for u in units:
        region_pop[u["stat_region_2009_2023"]] += float(u["population"])
    sex_pop = {"male": sum(float(u["population_males"]) for u in units),
               "female": sum(float(u["population_females"]) for u in units)}
    regions = sorted(set(counts["region"]))
    sexes = ["female", "male"]
    n = np.array([[counts.set_index(["region", "sex"])["n"].get((r, s), 0.0) for s in sexes] for r in regions])
    rt = np.array([region_pop[r] for r in regions]); rt = rt / rt.sum() * n.sum()
    st = np.array([sex_pop[s] for s in sexes]); st = st / st.sum() * n.sum()
    w = np.ones_like(n, dtype=float)
    for _ in range(200):
        w *= (rt / (w * n).sum(axis=1))[:, None]
        w *= (st / (w * n).sum(axis=0))[None, :]
    w = w / ((w * n).sum() / n.sum())
    return {(r, s): w[i, j] for i, r in enumerate(regions) for j, s in enumerate(sexes)}


def _interval(pub: Published, method: str, p, n, kish, var):
    """The published interval method (as documented) for candidate cells, vectorised."""
    z = 1.959963984540054
    if "Wilson" in method:
        centre = (p + z * z / (2 * kish)) / (1 + z * z / kish)
        half = z * np.sqrt(p * (1 - p) / kish + z * z / (4 * kish * kish)) / (1 + z * z / kish)
        return np.maximum(0, centre - half), np.minimum(1, centre + half)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where((p <= 0) | (p >= 1) | (var <= 0), n, np.minimum(n, p * (1 - p) / var))
        x = n_eff * p
        lo = np.where(p <= 0, 0.0, stats.beta.ppf(0.025, x, n_eff - x + 1))
        hi = np.where(p >= 1, 1.0, stats.beta.ppf(0.975, x + 1, n_eff - x))
    return lo, hi


def attack_equal_weights(pub: Published, max_n: int = 49) -> list[Finding]:
    """Raked waves: weights are one value per region x sex. For every municipality with at most
    `max_n` respondents, enumerate (women, men, numerator among women, among men) reproducing the
    published share, count, effective n and interval of the municipality (measure
    share_incl_hard_to_say) and of its sex cells; a value shared by every solution is recovered."""
    e = pub.est
    waves = pub.tables["dim_wave"]
    n_design = dict(zip(waves["wave_year"], waves["n_respondents_delivered"]))
    region_of = regions_of(pub)
    tol = 0.005 + 1e-9 if pub.rounded else 1e-9
    out = []
    for wave in sorted(e.loc[e["weight_source"] == "raked", "wave_year"].unique()):
        ew = e[(e["wave_year"] == wave) & (e["measure"] == "share_incl_hard_to_say")]
        # respondents per region x sex: the widest published count of a region x sex cell
        rs = ew[(ew["geo_level"] == "region") & (ew["subgroup_type"] == "sex") & ~ew["is_suppressed"]]
        counts = rs.groupby(["geo_code", "subgroup_value"]).agg(lo=("n_lo", "max"), hi=("n_hi", "max")).reset_index()
        counts["n"] = np.where(np.isfinite(counts["hi"]), (counts["lo"] + counts["hi"]) / 2, counts["lo"])
        weights = rake_region_sex(counts.rename(columns={"geo_code": "region", "subgroup_value": "sex"}))
        N = float(n_design.get(wave, 1000))
        for ind, g in ew[ew["geo_level"] == "municipality"].groupby("indicator_code"):
            by = {(r.geo_code, r.subgroup_type, r.subgroup_value): r for r in g.itertuples()}
            for (code, stype, _), total in list(by.items()):
                if stype != "all" or total.is_suppressed or total.n_lo > max_n:
                    continue
                region = region_of.get(code)
                if (region, "female") not in weights:
                    continue
                wf, wm = weights[(region, "female")], weights[(region, "male")]
                fem, mal = by.get((code, "sex", "female")), by.get((code, "sex", "male"))
                sols = _solve_split(total, fem, mal, wf, wm, tol, N, pub, max_n)
                if not sols:
                    continue
                arr = np.array(sols)
                for col, (cell, what) in enumerate([(fem, "B"), (mal, "B"), (fem, "T"), (mal, "T")]):
                    if cell is None:
                        continue
                    vals = np.unique(arr[:, col])
                    if len(vals) == 1:
                        state = "suppressed" if cell.is_suppressed else "published"
                        key = (ind, wave, "municipality", code, "sex", cell.subgroup_value, state)
                        out.append(Finding("A1 equal-weight inversion", key, what, float(vals[0])))
    return out


def _solve_split(total, fem, mal, wf, wm, tol, N, pub, max_n):
    lo, hi = int(total.n_lo), int(min(total.n_hi, max_n))
    sols = []
    for n in range(max(lo, 1), hi + 1):
        nf = np.arange(0, n + 1)
        nm = n - nf
        # candidate numerators
        NF, TF = [], []
        for a in nf:
            NF.append(np.full(a + 1, a)); TF.append(np.arange(a + 1))
        NF = np.concatenate(NF); TF = np.concatenate(TF)
        NM = n - NF
        # all T_m for each (NF, TF): expand
        reps = NM + 1
        NFx = np.repeat(NF, reps); TFx = np.repeat(TF, reps); NMx = np.repeat(NM, reps)
        TMx = np.concatenate([np.arange(k) for k in reps])
        W = wf * NFx + wm * NMx
        p = (wf * TFx + wm * TMx) / W
        ok = np.abs(p - total.estimate) <= tol
        for cell, NN, TT in ((fem, NFx, TFx), (mal, NMx, TMx)):
            if cell is not None and not cell.is_suppressed:
                ok &= (NN >= cell.n_lo) & (NN <= cell.n_hi)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ok &= np.abs(TT / NN - cell.estimate) <= tol
        if not ok.any():
            continue
        NFx, TFx, NMx, TMx, p, W = NFx[ok], TFx[ok], NMx[ok], TMx[ok], p[ok], W[ok]
        kish = W ** 2 / (wf ** 2 * NFx + wm ** 2 * NMx)
        if "n_effective" in pub.est.columns and not pd.isna(getattr(total, "n_effective", np.nan)):
            ok = np.abs(kish - total.n_effective) <= 1e-6 * total.n_effective
        else:
            ok = np.ones(len(p), dtype=bool)
        ss = (wf ** 2 * (TFx * (1 - p) ** 2 + (NFx - TFx) * p ** 2) + wm ** 2 * (TMx * (1 - p) ** 2 + (NMx - TMx) * p ** 2))
        var = N / (N - 1) * ss / W ** 2
        clo, chi = _interval(pub, total.ci_method, p, n, kish, var)
        if pub.rounded:
            clo, chi = np.floor(clo * 100 + 1e-9) / 100, np.ceil(chi * 100 - 1e-9) / 100
            ok &= (np.abs(clo - total.ci_low) < 1e-9) & (np.abs(chi - total.ci_high) < 1e-9)
        else:
            ok &= (np.abs(clo - total.ci_low) < 1e-9) & (np.abs(chi - total.ci_high) < 1e-9)
        for row in zip(NFx[ok], NMx[ok], TFx[ok], TMx[ok]):
            sols.append(row)
        if len(sols) > 200000:
            break
    return sols


# --- A2 model-error inversion ----------------------------------------------------------------------

COVARIATES = ["recipients_per_1000", "expenditure_per_resident_eur", "residents_per_specialist"]


def attack_model_error(pub: Published) -> list[Finding]:
    """Solve the published RMSEs for the sampling variances D_i = p(1 - p) / n_eff_i, assuming the
    documented Fay-Herriot model with Prasad-Rao MSE (g1 + g2 + 2 g3, REML variance of sigma2_u)
    and the published covariates; the D of municipalities with a published effective n are known."""
    tp = pub.tables["mart_trust_comparisons"]
    tp = tp[tp["geo_level"] == "municipality"].rename(columns={"geo_code": "municipality_code"}).copy()
    # the model's RMSE as published: the interval is +/- 1.96 RMSE, ends rounded outwards
    tp["trust_modelled_rmse"] = (tp["ci_high"] - tp["ci_low"]) / (2 * 1.959963984540054)
    direct = pub.est[(pub.est["indicator_code"] == "trust_top2") & (pub.est["geo_level"] == "municipality")
                     & (pub.est["subgroup_type"] == "all") & (pub.est["measure"] == "share_incl_hard_to_say")]
    suppressed = {(r.wave_year, r.geo_code): bool(r.is_suppressed) for r in direct.itertuples()}
    tp["trust_direct_is_suppressed"] = [suppressed.get((w, c), True) for w, c in zip(tp["wave_year"], tp["municipality_code"])]
    prov = pub.tables["mart_provision_per_capita"]
    e = pub.est
    out = []
    for wave, g in tp.groupby("wave_year"):
        g = g.sort_values("municipality_code").reset_index(drop=True)
        years = sorted(y for y in prov["year"].unique() if y <= wave) or sorted(prov["year"].unique())
        covs = prov[prov["year"] == years[-1]].set_index("municipality_code").reindex(g["municipality_code"])[COVARIATES]
        covs = (covs - covs.mean()) / covs.std(ddof=0)
        X = np.column_stack([np.ones(len(g)), covs.to_numpy(dtype=float)])
        nat = e[(e["indicator_code"] == "trust_top2") & (e["wave_year"] == wave) & (e["geo_level"] == "national")
                & (e["subgroup_type"] == "all") & (e["measure"] == "share_incl_hard_to_say")]["estimate"].iloc[0]
        pq = nat * (1 - nat)
        m = e[(e["indicator_code"] == "trust_top2") & (e["wave_year"] == wave) & (e["geo_level"] == "municipality")
              & (e["subgroup_type"] == "all") & (e["measure"] == "share_incl_hard_to_say") & ~e["is_suppressed"]]
        if "n_effective" in e.columns:  # published: D = p(1 - p) / n_eff exactly
            known = {r.geo_code: pq / r.n_effective for r in m.itertuples()}
        else:  # best guess from the published interval's width
            known = {r.geo_code: ((r.ci_high - r.ci_low) / (2 * 1.959963984540054)) ** 2 for r in m.itertuples()}
        target = g["trust_modelled_rmse"].to_numpy(dtype=float) ** 2
        unknown = [i for i, c in enumerate(g["municipality_code"]) if c not in known]
        D0 = np.array([known.get(c, np.nan) for c in g["municipality_code"]])

        def mse(theta):
            D = D0.copy()
            D[unknown] = np.exp(theta[:-1])
            s2 = np.exp(theta[-1]) if theta[-1] > -30 else 0.0
            V_inv = 1.0 / np.maximum(s2 + D, 1e-12)
            try:
                A = np.linalg.inv(X.T @ (X * V_inv[:, None]))
            except np.linalg.LinAlgError:
                return np.full(len(D), 1e6)
            gamma = s2 * V_inv
            var_s2 = 2.0 / np.sum(V_inv ** 2)
            g1 = gamma * D
            g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", X, A, X)
            g3 = D ** 2 * V_inv ** 3 * var_s2
            return g1 + g2 + 2 * g3

        best = None
        for log_s2 in (-40.0, math.log(0.001), math.log(0.003)):
            theta0 = np.concatenate([np.full(len(unknown), math.log(pq / 20)), [log_s2]])
            method = "lm" if len(theta0) <= len(target) else "trf"
            fit = optimize.least_squares(lambda th: (mse(th) - target) / target, theta0, method=method, xtol=1e-15,
                                         ftol=1e-15, gtol=1e-15, max_nfev=2000)
            if fit is not None and (best is None or fit.cost < best.cost):
                best = fit
        if best is None:
            continue
        D_hat = np.exp(best.x[:-1])
        for i, d in zip(unknown, D_hat):
            row = g.loc[i]
            if bool(row["trust_direct_is_suppressed"]):
                out.append(Finding("A2 model-error inversion",
                                   ("trust_top2", int(wave), "municipality", row["municipality_code"], "all", "all",
                                    "suppressed"), "n_eff", pq / d))
    return out


# --- the test ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def attack_setup(request):
    """The published snapshot of the sample build (or of another build: TRUST_ATTACK_SNAPSHOT and
    TRUST_ATTACK_WAREHOUSE), what the attacker reads, and its warehouse, which scores her."""
    snap, wh = os.environ.get("TRUST_ATTACK_SNAPSHOT"), os.environ.get("TRUST_ATTACK_WAREHOUSE")
    if snap and wh:
        snapshot, warehouse = Path(snap), Path(wh)
    else:
        build = request.getfixturevalue("sample_build")
        snapshot, warehouse = build.paths.published_path, build.paths.warehouse_path
    return load_published(snapshot), load_truth(warehouse), rules()


def _report(hits, limit=8):
    return "\n".join(f"{f.attack}: {f.key} {f.what} = {f.value}" for f in hits[:limit]) + (
        f"\n... {len(hits)} in all" if len(hits) > limit else "")


def test_a1_equal_weight_inversion_recovers_nothing(attack_setup):
    pub, truth, _ = attack_setup
    findings = attack_equal_weights(pub)
    hits = score(findings, truth)
    assert not hits, _report(hits)


def test_a2_model_error_inversion_recovers_no_effective_n(attack_setup):
    pub, truth, _ = attack_setup
    hits = score(attack_model_error(pub), truth)
    assert not hits, _report(hits)


@pytest.mark.e2e
def test_a3_linked_tables_lp_leaves_every_suppressed_count_a_wide_range(attack_setup):
    pub, truth, r = attack_setup
    findings, narrow = lp_count_ranges(pub, truth, r["protection_min_count_range"])
    hits = score(findings, truth)
    assert not hits, _report(hits)
    assert not narrow, f"{len(narrow)} suppressed counts with a feasible range narrower than " \
                       f"{r['protection_min_count_range']:g}: {narrow[:5]}"


@pytest.mark.e2e
def test_a3_lp_leaves_every_suppressed_share_a_wide_range(attack_setup):
    pub, truth, r = attack_setup
    narrow = lp_share_ranges(pub, truth, r["protection_min_share_range"])
    assert not narrow, f"{len(narrow)} suppressed shares with a feasible range narrower than " \
                       f"{r['protection_min_share_range']:g}: {narrow[:5]}"


def test_a4_differencing_of_counts_recovers_nothing(attack_setup):
    pub, truth, _ = attack_setup
    hits = score(attack_differencing(pub), truth)
    assert not hits, _report(hits)


def test_a5_no_group_is_disclosed(attack_setup):
    pub, truth, _ = attack_setup
    hits = score(attack_group(pub, truth), truth)
    assert not hits, _report(hits)
