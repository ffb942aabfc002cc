"""The cheap attacks: A4 differencing of counts, A5 group disclosure, A6 sibling measures (within a
cell and across the tables that publish the same cell), A7 exact counts and weight sums in any
published table. Each reads only the snapshot (`Published`); the truth scores the claims and checks
every fact the attack relies on."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .published import Published
from .scoring import AttackResult, Finding, count_hit
from .truth import BASE_OF, CELL, MEASURES, NUMERATOR_OF, Truth

SHARE_PRECISION = 0.005  # a share recovered to the published precision (half a percentage point)


def _published_rows(pub: Published) -> pd.DataFrame:
    return pub.est[~pub.est["is_suppressed"].astype(bool)]


def _with_truth(e: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    cols = ["A", "B", "C", "T", "H", "R"] + list(MEASURES)
    return e.merge(truth.cells[CELL + cols].rename(columns={c: "true_" + c for c in cols}), on=CELL, how="inner")


def check_published_shares(res: AttackResult, pub: Published, truth: Truth) -> None:
    """The fact every share attack relies on: a published share is the true share within the
    published rounding (0.005)."""
    e = _with_truth(_published_rows(pub).dropna(subset=["estimate"]), truth)
    true = np.choose(e["measure"].map({m: i for i, m in enumerate(MEASURES)}).to_numpy(),
                     [e["true_" + m].to_numpy(dtype=float) for m in MEASURES])
    bad = e[np.abs(e["estimate"].to_numpy(dtype=float) - true) > pub.share_tol + 1e-12]
    res.check_many("published share = true share within the rounding", len(e),
                   [tuple(r) for r in bad[CELL + ["measure", "estimate"]].head(5).itertuples(index=False)]
                   + [None] * max(0, len(bad) - 5))


def check_published_counts(res: AttackResult, pub: Published, truth: Truth) -> None:
    """A published band (or exact count) holds the cell's true number of respondents asked, and a
    published per-measure count is the measure's true base."""
    e = _with_truth(_published_rows(pub), truth)
    ok = (e["n_lo"] <= e["true_A"]) & (e["true_A"] <= e["n_hi"])
    base_true = np.choose(e["measure"].map({m: "ABCB".index(BASE_OF[m]) for m in MEASURES}).to_numpy(),
                          [e["true_A"].to_numpy(), e["true_B"].to_numpy(), e["true_C"].to_numpy(), e["true_B"].to_numpy()])
    ok &= e["base_lo"].isna() | (e["base_lo"].to_numpy() == base_true)
    bad = e[~ok]
    res.check_many("published count / band holds the true count", len(e),
                   [tuple(r) for r in bad[CELL + ["measure", "n_lo", "n_hi"]].head(5).itertuples(index=False)]
                   + [None] * max(0, len(bad) - 5))


# --- A4 ---------------------------------------------------------------------------------------------

def attack_differencing(pub: Published, truth: Truth) -> AttackResult:
    """Two bases of one cell: incl. "hard to say" minus with an opinion = "hard to say"; all asked
    minus answered = refusals. Exact wherever both counts are published exactly (a band of one value
    or a per-measure count); with one band per cell the difference is a range."""
    res = AttackResult("A4 differencing", pub.name)
    e = _published_rows(pub)
    lo = e["base_lo"].where(e["base_lo"].notna(), e["n_lo"])
    hi = e["base_hi"].where(e["base_hi"].notna(), e["n_hi"])
    w = e.assign(lo=lo, hi=hi).pivot_table(index=CELL, columns="measure", values=["lo", "hi"], aggfunc="first")
    pairs = [("share_incl_hard_to_say", "share_with_opinion", "H"), ("share_all_asked", "share_incl_hard_to_say", "R")]
    for big, small, what in pairs:
        if ("lo", big) not in w.columns or ("lo", small) not in w.columns:
            continue
        d_lo = w[("lo", big)] - w[("hi", small)]
        d_hi = w[("hi", big)] - w[("lo", small)]
        exact = d_lo.notna() & (d_lo == d_hi)
        for key, v in d_lo[exact].items():
            f = Finding(res.attack, tuple(key) + ("published",), what, float(v))
            res.claims.append(f)
            if count_hit(f, truth.cell(key)):
                res.hits.append(f)
    check_published_counts(res, pub, truth)
    res.stats["exact differences"] = len(res.claims)
    return res


# --- A5 ---------------------------------------------------------------------------------------------

def attack_group(pub: Published, truth: Truth) -> AttackResult:
    """Published shares of 0 or 1 (nobody / everybody), and shares that imply one: "with an opinion"
    equal to "incl. hard to say" (nobody said "hard to say"), a hard-to-say share of 0."""
    res = AttackResult("A5 group disclosure", pub.name)
    e = _published_rows(pub)
    for r in e[(e["estimate"] == 0) | (e["estimate"] == 1)].itertuples():
        key = tuple(getattr(r, c) for c in CELL)
        res.claims.append(Finding(res.attack, key + (r.measure,), "group", (r.measure, float(r.estimate))))
    wide = e.pivot_table(index=CELL, columns="measure", values="estimate", aggfunc="first")
    if {"share_incl_hard_to_say", "share_with_opinion"} <= set(wide.columns):
        same = wide[(wide["share_incl_hard_to_say"] == wide["share_with_opinion"])
                    & (wide["share_with_opinion"] > 0)]
        for key in same.index:
            res.claims.append(Finding(res.attack, tuple(key) + ("derived",), "group", ("hard_to_say_share", 0.0),
                                      "with an opinion = incl. hard to say"))
    for f in res.claims:
        row = truth.cell(f.key)
        if row is None:
            continue
        measure, value = f.value
        num, base = row[NUMERATOR_OF[measure]], row[BASE_OF[measure]]
        if (value == 0 and num == 0) or (value == 1 and num == base):
            res.hits.append(f)
    check_published_shares(res, pub, truth)
    res.stats["claims of an empty or full class"] = len(res.claims)
    return res


# --- A6 ---------------------------------------------------------------------------------------------

def _raked_weight_count(key, region_of: dict) -> int:
    """Distinct weights of a cell in a wave raked by region x sex (one weight per region x sex): the
    region x sex combinations the cell spans (documented weighting)."""
    _, _, level, code, stype, svalue = key
    regions = 6 if level == "national" else 1
    sexes = 1 if stype == "sex" else 2
    return regions * sexes


def attack_siblings(pub: Published, truth: Truth, r: dict) -> AttackResult:
    """Sibling measures. (a) A cell whose measures are not published or withheld together. (b) A cell
    whose set of measure rows is not the documented one (four measures from `full_measures_min_n`
    respondents asked with more than `max_weight_values_count_rule` weights, else one): the attacker
    predicts the weights from the wave's documented weighting (raked by region x sex: one weight per
    region x sex; delivered: many); where the set differs from her prediction it says something about
    the cell, which is a disclosure only if the truth shows the set does not follow the documented rule
    (then it depends on the answers); otherwise it is reported (it tells the cell's number of distinct
    weights). (c) A withheld measure recovered from published siblings: share_with_opinion =
    incl / (1 - hard_to_say), hard_to_say = 1 - incl / opinion, incl = opinion (1 - hard_to_say); a
    withheld opinion pair next to a published share means an empty (or, with few weights, small) "hard
    to say" class, so share_with_opinion = incl. (d) The same cell published in another table while
    withheld here (changes, the trust-provision scatter, the comparisons' direct estimates, client
    satisfaction), and a withheld satisfaction distribution next to a published top-2 share (an answer
    class empty or small)."""
    from .published import regions_of
    res = AttackResult("A6 sibling measures", pub.name)
    e = pub.est.assign(sup=pub.est["is_suppressed"].astype(bool))
    full_n, few = r["full_measures_min_n"], r["max_weight_values_count_rule"]
    region_of = regions_of(pub)
    tol = pub.share_tol
    g = e.groupby(CELL)
    cells = g.agg(n_rows=("measure", "size"), n_sup=("sup", "sum"), band_lo=("n_lo", "first"),
                  raked=("weight_source", lambda x: (x == "raked").any())).reset_index()
    withheld_keys = set(zip(*(e.loc[e["sup"], c] for c in CELL + ["measure"])))
    mixed = cells[(cells["n_sup"] > 0) & (cells["n_sup"] < cells["n_rows"])]
    for row in mixed.itertuples(index=False):
        res.claims.append(Finding(res.attack, tuple(row[:6]) + ("mixed",), "structure", int(row.n_sup),
                                  "some measures published, others withheld"))
    published_cells = cells[cells["n_sup"] == 0]
    reveal = int(((cells["n_sup"] == cells["n_rows"]) & (cells["n_rows"] == 4)).sum())
    other_set = 0
    informative = 0
    if not pub.exact_counts:
        keys = list(published_cells[CELL].itertuples(index=False, name=None))
        n_weights = np.array([_raked_weight_count(k, region_of) if rk else 10 ** 6
                              for k, rk in zip(keys, published_cells["raked"])])
        predicted4 = (published_cells["band_lo"].to_numpy() >= full_n) & (n_weights > few)
        has4 = published_cells["n_rows"].to_numpy() == 4
        for k, p4, h4 in zip(keys, predicted4, has4):
            if p4 == h4:
                continue
            t = truth.cell(k)
            rule4 = t is not None and t["A"] >= full_n and t["n_weights"] > few
            if rule4 != h4:
                other_set += 1
                res.claims.append(Finding(res.attack, k + ("structure",), "structure", int(h4),
                                          "measure set not the documented rule's"))
            else:
                informative += 1
    # (c) identities within a cell, vectorised
    w = e[~e["sup"]].pivot_table(index=CELL, columns="measure", values="estimate", aggfunc="first")
    gone = e[e["sup"]].pivot_table(index=CELL, columns="measure", values="sup", aggfunc="first")
    both = w.index.intersection(gone.index)
    w, gone = w.reindex(both), gone.reindex(both)

    def col(frame, m):
        return frame[m] if m in frame.columns else pd.Series(np.nan, index=frame.index)

    si, hts, swo = col(w, "share_incl_hard_to_say"), col(w, "hard_to_say_share"), col(w, "share_with_opinion")
    g_swo, g_hts, g_si = (col(gone, m).fillna(False).astype(bool) for m in
                          ("share_with_opinion", "hard_to_say_share", "share_incl_hard_to_say"))
    lo = lambda x: (x - tol).clip(0, 1)  # noqa: E731
    hi = lambda x: (x + tol).clip(0, 1)  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = [
            ("share_with_opinion", g_swo & si.notna() & hts.notna() & (hi(hts) < 1),
             lo(si) / (1 - lo(hts)), (hi(si) / (1 - hi(hts))).clip(upper=1), "incl / (1 - hard to say)"),
            ("hard_to_say_share", g_hts & si.notna() & swo.notna() & (lo(swo) > 0),
             (1 - hi(si) / lo(swo)).clip(lower=0), (1 - lo(si) / hi(swo)).clip(lower=0), "1 - incl / opinion"),
            ("share_incl_hard_to_say", g_si & swo.notna() & hts.notna(),
             lo(swo) * (1 - hi(hts)), hi(swo) * (1 - lo(hts)), "opinion x (1 - hard to say)"),
            ("share_with_opinion", g_swo & g_hts & si.notna(), lo(si), hi(si), "withheld pair: opinion = incl"),
        ]
    for measure, mask, a, b, note in derived:
        ok = mask & ((b - a) <= 2 * tol + 1e-9)  # pinned to the published precision
        for key in ok[ok].index:
            res.claims.append(Finding(res.attack, tuple(key) + (measure, "suppressed"), "share",
                                      float((a[key] + b[key]) / 2), note))
    pair = g_swo & g_hts & si.notna()
    for key in pair[pair].index:
        res.claims.append(Finding(res.attack, tuple(key) + ("hard_to_say_share", "derived"), "group", 0.0,
                                  "withheld pair next to a published share: nobody said hard to say"))
    res.stats.update({"cells with mixed measures": len(mixed), "cells whose measure set breaks the rule": other_set,
                      "published cells whose measure set tells their weights (not their answers)": informative,
                      f"withheld cells whose 4 rows reveal >= {full_n:g} asked": reveal})
    _cross_table(res, pub, withheld_keys)
    for f in res.claims:
        row = truth.cell(f.key)
        if f.what == "structure":
            res.hits.append(f)  # the rule itself is broken: the set of measures depends on the answers
        elif f.what == "group" and row is not None:
            if row["H"] == 0:
                res.hits.append(f)
        elif f.what == "share" and row is not None:
            measure = f.key[6]
            if f.key[:6] + (measure,) in withheld_keys and abs(f.value - row[measure]) <= SHARE_PRECISION + 1e-9:
                res.hits.append(f)
        elif f.what == "client_group":
            c = truth.client_satisfaction.set_index("wave_year").loc[f.key[0]]
            classes = [c[x] for x in ("n_fully", "n_rather", "n_rather_not", "n_not_at_all", "n_hard_to_say")]
            if min(classes) == 0:
                res.hits.append(f)
    # the identity the attack uses holds for the truth
    c = truth.cells
    ok = (c["wC"] > 0) & (c["wB"] > c["wH"])
    lhs = c.loc[ok, "share_with_opinion"]
    rhs = c.loc[ok, "share_incl_hard_to_say"] / (1 - c.loc[ok, "hard_to_say_share"])
    bad = list(c.loc[ok][(lhs - rhs).abs() > 1e-9][CELL].itertuples(index=False))
    res.check_many("opinion = incl / (1 - hard to say) (truth)", int(ok.sum()), bad)
    check_published_shares(res, pub, truth)
    return res


def _cross_table(res: AttackResult, pub: Published, withheld: set) -> None:
    t = pub.tables
    published_keys = set(zip(*(pub.est.loc[~pub.est["is_suppressed"].astype(bool), c] for c in CELL + ["measure"])))
    seen = 0

    def other(key, measure, value, table):
        nonlocal seen
        if value is None or pd.isna(value):
            return
        seen += 1
        if key + (measure,) not in published_keys:
            res.claims.append(Finding(res.attack, key + (measure, "suppressed"), "share", float(value),
                                      f"published in {table}"))

    if "mart_indicator_changes" in t:
        for r in t["mart_indicator_changes"].itertuples():
            for wave, value in ((r.wave_from, r.estimate_from), (r.wave_to, r.estimate_to)):
                other((r.indicator_code, int(wave), r.geo_level, r.geo_code, r.subgroup_type, r.subgroup_value),
                      r.measure, value, "mart_indicator_changes")
    if "mart_trust_provision" in t:
        for r in t["mart_trust_provision"].drop_duplicates(["municipality_code", "wave_year"]).itertuples():
            other(("trust_top2", int(r.wave_year), "municipality", r.municipality_code, "all", "all"),
                  "share_incl_hard_to_say", r.trust_direct, "mart_trust_provision")
    if "mart_trust_comparisons" in t:
        tc = t["mart_trust_comparisons"]
        for r in tc[tc["estimate_type"] == "direct"].itertuples():
            other(("trust_top2", int(r.wave_year), r.geo_level, r.geo_code, "all", "all"), "share_incl_hard_to_say",
                  r.estimate, "mart_trust_comparisons")
        for col, level in (("latvia_estimate", "national"), ("region_estimate", "region")):
            if col in tc.columns:
                for r in tc.itertuples():
                    code = "LV" if level == "national" else r.region
                    if code is not None and not pd.isna(code):
                        other(("trust_top2", int(r.wave_year), level, code, "all", "all"), "share_incl_hard_to_say",
                              getattr(r, col), "mart_trust_comparisons." + col)
    if "mart_client_satisfaction" in t:
        cs = t["mart_client_satisfaction"]
        nat = pub.est[(pub.est["indicator_code"] == "satisfaction_top2") & (pub.est["geo_level"] == "national")
                      & (pub.est["subgroup_type"] == "all") & (pub.est["measure"] == "share_incl_hard_to_say")]
        published_nat = {int(r.wave_year) for r in nat.itertuples() if not r.is_suppressed}
        for r in cs.itertuples():
            key = ("satisfaction_top2", int(r.wave_year), "national", "LV", "all", "all")
            if "top2_share" in cs.columns:
                other(key, "share_incl_hard_to_say", r.top2_share, "mart_client_satisfaction")
            if bool(r.is_suppressed) and int(r.wave_year) in published_nat:
                res.claims.append(Finding(res.attack, (int(r.wave_year),), "client_group", True,
                                          "distribution withheld next to a published top-2 share"))
    res.stats["cross-table values looked up"] = seen


# --- A7 ---------------------------------------------------------------------------------------------

PUBLIC_BY_DECISION = {("dim_wave", "n_respondents_delivered"), ("quality_file_loads", "rows_loaded")}
COUNTS, SUMS = ("A", "B", "C", "T", "H", "R"), ("w", "wB", "wC", "wT", "wH")


def _truth_values(truth: Truth):
    """{cell key: set of its exact counts and weight sums}, {wave: wave-level counts and sums}."""
    by_cell = {}
    for r in truth.cells[CELL + list(COUNTS) + list(SUMS)].itertuples(index=False):
        by_cell[tuple(r[:6])] = {float(v) for v in r[6:]}
    by_wave = {}
    nat = truth.cells[(truth.cells["geo_level"] == "national") & (truth.cells["subgroup_type"] == "all")]
    for w, g in nat.groupby("wave_year"):
        by_wave[int(w)] = {float(v) for v in g[list(COUNTS) + list(SUMS)].to_numpy().ravel()}
    for r in truth.waves.itertuples():
        by_wave.setdefault(int(r.wave_year), set()).update({float(r.n_respondents), float(r.sum_w)})
    cs = truth.client_satisfaction
    for r in cs.itertuples():
        by_wave.setdefault(int(r.wave_year), set()).update(
            float(getattr(r, c)) for c in ("n_unweighted", "sum_of_weights", "n_fully", "n_rather", "n_rather_not",
                                           "n_not_at_all", "n_hard_to_say"))
    by_muni = {}
    mun = truth.cells[truth.cells["geo_level"] == "municipality"]
    for r in mun[["wave_year", "geo_code"] + list(COUNTS) + list(SUMS)].itertuples(index=False):
        by_muni.setdefault((int(r[0]), r[1]), set()).update(float(v) for v in r[2:])
    return by_cell, by_wave, by_muni


def _matches(value: float, candidates: set) -> bool:
    if value in candidates:
        return True
    return any(abs(value - c) <= 1e-6 * max(1.0, abs(c)) or round(c, 2) == value for c in candidates
               if abs(value - c) < 0.01)


def attack_exact_counts(pub: Published, truth: Truth, tables: dict | None = None) -> AttackResult:
    """Every numeric column of every published table: which values equal the exact respondent counts
    or weight sums (exact, or rounded to 0.01) of the cell (or wave, or municipality and wave) the
    row is about. A column is flagged when at least half of its values (and at least 2) do, over the
    whole table or within the rows of one value of a categorical column (e.g. the survey deliveries
    of quality_file_loads); its matching values are the recovered ones. The whole-wave sample size
    (dim_wave.n_respondents_delivered and a survey delivery's rows_loaded) is public by decision and
    reported, not counted."""
    res = AttackResult("A7 exact counts and weight sums", pub.name)
    by_cell, by_wave, by_muni = _truth_values(truth)
    tables = tables if tables is not None else pub.tables
    public = []
    for name, df in tables.items():
        cols = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
        keys = {"wave_year", "wave_from", "wave_to", "delivery_year", "year", "point", "covariate_year",
                "provision_year", "source_row_number"}
        cols = [c for c in cols if c not in keys]
        if not cols or df.empty:
            continue
        groups = [c for c in df.columns if (df[c].dtype == object or pd.api.types.is_string_dtype(df[c]))
                  and 1 < df[c].nunique() <= 20]
        if not {"wave_year", "wave_from", "wave_to", "delivery_year"} & set(df.columns):
            continue  # no row can be tied to a survey cell or wave (e.g. the administrative tables: A9)
        records = df.to_dict("records")
        cands = [_row_truth(row, by_cell, by_wave, by_muni) for row in records]
        for col in cols:
            values = df[col].to_numpy(dtype=float)
            present = ~np.isnan(values)
            # values of at most 1 (shares, p-values, a single respondent's weight) are not compared: too many
            # would equal a count of 0 or 1 or a one-person weight sum by chance
            present &= np.abs(np.nan_to_num(values)) > 1
            hit = np.array([bool(c) and p and _matches(float(v), c) for v, c, p in zip(values, cands, present)])
            scopes = [("all rows", np.ones(len(df), dtype=bool))]
            scopes += [(f"{g} = {v}", (df[g] == v).to_numpy()) for g in groups for v in df[g].dropna().unique()]
            for label, rows in scopes:
                n, matched = int((present & rows).sum()), int((hit & rows).sum())
                if n and matched >= 2 and matched >= 0.5 * n:
                    if (name, col) in PUBLIC_BY_DECISION:
                        public.append(f"{name}.{col} where {label} ({matched} of {n})")
                    else:
                        ex = [{k: records[i][k] for k in list(records[i])[:6]} | {col: values[i]}
                              for i in np.flatnonzero(hit & rows)[:3]]
                        res.claims.append(Finding(res.attack, (name, col, label), "column", matched, f"of {n}: {ex}"))
                        res.hits.append(res.claims[-1])
                    break
    # the exception is what the decision says: the whole wave's true sample size, nothing finer
    if "dim_wave" in tables:
        sizes = dict(zip(truth.waves["wave_year"].astype(int), truth.waves["n_respondents"]))
        for row in tables["dim_wave"].itertuples():
            res.check("dim_wave.n_respondents_delivered is the wave's sample size (truth)",
                      sizes.get(int(row.wave_year)) == row.n_respondents_delivered, (row.wave_year,))
    res.stats["tables scanned"] = len(tables)
    res.stats["public by decision"] = "; ".join(public) or "none"
    res.stats["values in flagged columns"] = sum(f.value for f in res.hits)
    return res


def _row_truth(row: dict, by_cell, by_wave, by_muni) -> set:
    waves = [int(row[c]) for c in ("wave_year", "wave_from", "wave_to", "delivery_year") if c in row
             and row[c] is not None and not pd.isna(row[c])]
    out = set()
    if "indicator_code" in row and "geo_level" in row and "subgroup_type" in row and row.get("geo_code"):
        for w in waves:
            out |= by_cell.get((row["indicator_code"], w, row["geo_level"], row["geo_code"], row["subgroup_type"],
                                row["subgroup_value"]), set())
    elif "indicator_code" in row and "geo_level" in row and row.get("geo_code"):
        for w in waves:
            out |= by_cell.get((row["indicator_code"], w, row["geo_level"], row["geo_code"], "all", "all"), set())
    elif "municipality_code" in row and waves:
        for w in waves:
            out |= by_muni.get((w, row["municipality_code"]), set())
    else:
        for w in waves:
            out |= by_wave.get(w, set())
    return out
