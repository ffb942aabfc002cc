"""Disclosure control of the indicator cells (seed disclosure_rules; docs/methodology.md). One row
per cell with its publication decision. A cell's whole family of measures is published or withheld
as ONE decision: no published measure, interval, flag or reason lets a reader infer a withheld one.

0. Which measures a cell publishes is fixed by its size band and its wave's weighting, not by its
   answers: a cell of at least `full_measures_min_n` respondents asked (the lower end of its
   published band) whose respondents carry more than `max_weight_values_count_rule` different
   weights publishes the four measures (share_all_asked, share_incl_hard_to_say,
   share_with_opinion, hard_to_say_share); any other cell publishes only share_incl_hard_to_say.
   The band is published and the weighting is documented per wave (a wave raked by region x sex
   gives the respondents of one region two weights), so the set of measures tells nothing more;
   and in a few-weights cell every further share would give another answer class's count. (Before issue 20 the pair share_with_opinion /
   hard_to_say_share was withheld alone when an answer class was empty, while share_incl_hard_to_say
   of the same cell was published: the withholding itself said that the class was empty.)
1. Primary suppression of the whole cell (every measure it would publish):
   - threshold: fewer than `min_unweighted_n` respondents with an opinion (the smallest base);
   - group disclosure: any share the cell would publish is 0 % or 100 % (its numerator empty or
     everybody; for the four measures also nobody with another opinion, nobody or everybody saying
     "hard to say");
   - few weights: where the respondents of the cell carry at most `max_weight_values_count_rule`
     different weights (one weight: an unweighted share; two: e.g. women and men of one region in a
     wave raked by region x sex), the shares and their intervals determine the counts, so the
     frequency-table threshold applies to every answer class the published shares separate:
     fewer than `min_category_n` in it (refusals: 1 to `min_category_n` - 1, when share_all_asked is
     published next to share_incl_hard_to_say).
2. Complementary suppression over all linked tables, cell by cell (all measures of a cell go
   together), in two rules repeated until both hold: (a) every additive set of cells - the subgroups of one dimension (sex; client status; age
   bands) with their `all` cell, the municipalities of a region with the region, the regions with
   the nation, for every indicator, wave and subgroup - must have no suppressed cell or at least
   two, counting its total. Where a set has exactly one (its total included: a suppressed total
   whose members are all published would be their sum), the smallest other published cell of the
   set is suppressed too; (b) counts are published in bands (seed publication_bands), and where a
   published total's band leaves its suppressed members less than `protection_min_count_range`
   respondents of room (its band top minus the least the members can hold: their band bottoms, 1
   per suppressed cell, or the sum of a suppressed total's own members), the smallest published
   member is suppressed too, so no suppressed count is pinned to a narrow range. Ties are broken by
   the cell key, so the same data always give the same pattern.
Every withheld cell says the same: "not published: too few respondents or a disclosure risk"
(never which rule, which would say what it hides). Published numbers are rounded and banded, and
small cells' intervals are computed from their band (int_indicator_estimates), so an interval does
not give the sample size back; the attacker test (tests/test_disclosure_attack.py) audits the result.
"""
import pandas as pd

CELL_KEY = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]

REASON = "not published: too few respondents or a disclosure risk"  # seed publication_texts (withheld)
REASON_LV = "nav publicēts: par maz respondentu vai atklāšanas risks"


def _sets(cells: pd.DataFrame, region_of: dict):
    """Yield (total_index, member_indices) for every additive set of cells."""
    keys = ["indicator_code", "wave_year"]
    sub = cells[cells["subgroup_type"] != "all"]
    totals = cells[cells["subgroup_type"] == "all"].set_index(keys + ["geo_level", "geo_code"])["_i"]
    for (ind, wave, level, code, _dim), group in sub.groupby(keys + ["geo_level", "geo_code", "subgroup_type"]):
        total = totals.get((ind, wave, level, code))
        if total is not None:
            yield int(total), group["_i"].tolist()
    for _, group in cells.groupby(keys + ["subgroup_type", "subgroup_value"]):
        by_level = {lvl: g for lvl, g in group.groupby("geo_level")}
        if "municipality" in by_level and "region" in by_level:
            regions = by_level["region"].set_index("geo_code")["_i"]
            munis = by_level["municipality"].assign(region=lambda d: d["geo_code"].map(region_of))
            for region, g in munis.groupby("region"):
                if region in regions.index:
                    yield int(regions[region]), g["_i"].tolist()
        if "region" in by_level and "national" in by_level:
            yield int(by_level["national"]["_i"].iloc[0]), by_level["region"]["_i"].tolist()


def primary(cells: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """Which measures each cell publishes (point 0) and cell-level primary suppression (point 1)."""
    min_n = int(rules["min_unweighted_n"])
    k = int(rules["min_category_n"])
    t, b, a = cells["n_numerator"], cells["n_unweighted"], cells["n_asked"]
    o = cells["n_with_opinion"] - t
    h, r = cells["n_hard_to_say"], cells["n_refused"]
    few_weights = cells["n_weight_values"] <= int(rules["max_weight_values_count_rule"])
    full = (a >= int(rules["full_measures_min_n"])) & ~few_weights
    threshold = cells["n_with_opinion"] < min_n
    # share_incl_hard_to_say (always): t / b; the other three where the cell publishes them
    group = (t == 0) | (t == b) | (full & ((t == a) | (o == 0) | (h == 0) | (h == b)))
    few_small = few_weights & ((t < k) | (b - t < k)
                               | (full & ((o < k) | (h < k) | ((r > 0) & (r < k)))))
    out = cells.copy()
    out["publishes_all_measures"] = full
    out["count_rule_applies"] = few_weights
    out["primary"] = threshold | group | few_small
    return out


def _band(n: int, bands: list[tuple[int, float]]) -> tuple[int, float]:
    for low, high in bands:
        if n >= low and n <= high:
            return low, high
    return 1, float("inf")


def _narrow_sets(sets, reason, band_lo, band_hi, min_range):
    """Sets with a published total whose band leaves a suppressed member less than `min_range` of
    room: the total's band top minus the least each member can hold (its band bottom, or for a
    suppressed cell 1 respondent, or the least its own suppressed members add up to)."""
    least = [band_lo[i] if reason[i] is None else 1 for i in range(len(reason))]
    for _ in range(3):  # municipalities -> regions -> nation; subgroups -> their total
        for total, members in sets:
            if reason[total] is not None:
                least[total] = max(least[total], sum(least[m] for m in members))
    for total, members in sets:
        if reason[total] is None and any(reason[m] is not None for m in members):
            if band_hi[total] - sum(least[m] for m in members) < min_range:
                yield total, members


def protect(cells: pd.DataFrame, rules: dict, region_of: dict, bands: list | None = None,
            texts: tuple[str, str] = (REASON, REASON_LV)) -> pd.DataFrame:
    # A fixed order, so ties between equally small cells are always broken the same way: the same
    # data must give the same suppressed cells in every build (else two releases could be differenced).
    cells = primary(cells.sort_values(CELL_KEY, kind="stable").reset_index(drop=True), rules)
    cells["_i"] = cells.index
    size = cells["n_asked"].tolist()
    # A plain list: a pandas object Series would turn None into NaN, and NaN "is not None".
    reason: list[str | None] = ["primary" if p else None for p in cells["primary"]]
    sets = [(total, members) for total, members in _sets(cells, region_of)]
    banded = [_band(n, bands or [(0, float("inf"))]) for n in size]
    band_lo, band_hi = [b[0] for b in banded], [b[1] for b in banded]
    min_range = rules.get("protection_min_count_range", 0) if bands else 0
    changed = True
    while changed:
        changed = False
        for total, members in sets:
            group = [total] + members
            hidden = [m for m in group if reason[m] is not None]
            if len(hidden) != 1:
                continue
            visible = [m for m in members if reason[m] is None]
            if not visible:  # a single member equals its total: both go
                visible = [total]
            pick = min(visible, key=lambda m: (size[m], m))
            reason[pick] = "complementary"
            changed = True
        if not changed and min_range:
            # a published total whose band leaves its suppressed members too little room: one more
            for total, members in _narrow_sets(sets, reason, band_lo, band_hi, min_range):
                visible = [m for m in members if reason[m] is None] or [total]
                pick = min(visible, key=lambda m: (size[m], m))
                reason[pick] = "complementary"
                changed = True
                break
    suppressed = [r is not None for r in reason]
    cells["is_suppressed"] = suppressed
    # which rule withheld a cell stays in the warehouse (suppression_rule); the published reason is one text
    cells["suppression_rule"] = pd.Series(reason, index=cells.index, dtype=object)
    cells["suppression_reason"] = pd.Series([texts[0] if r else None for r in suppressed], index=cells.index,
                                            dtype=object)
    cells["suppression_reason_lv"] = pd.Series([texts[1] if r else None for r in suppressed], index=cells.index,
                                               dtype=object)
    return cells.drop(columns=["_i", "primary"])


def model(dbt, session):
    dbt.config(materialized="table")
    cells = dbt.ref("int_indicator_cells").df()
    rule_rows = dbt.ref("disclosure_rules").df()
    rules = dict(zip(rule_rows["rule"], rule_rows["value"].astype(float)))
    units = dbt.ref("int_municipalities").df()
    current_set = dbt.ref("boundary_sets").df()
    current = current_set[current_set["valid_to"].isna()]["boundary_set"].iloc[0]
    units = units[units["boundary_set"] == current]
    region_of = dict(zip(units["municipality_code"], units["region_2009_2023"]))
    keep = CELL_KEY + ["n_asked", "n_unweighted", "n_with_opinion", "n_numerator", "n_hard_to_say", "n_refused",
                       "min_w", "max_w", "n_weight_values"]
    band_rows = dbt.ref("publication_bands").df()
    bands = [(int(r.band_low), float("inf") if pd.isna(r.band_high) else int(r.band_high))
             for r in band_rows.itertuples()]
    text_rows = dbt.ref("publication_texts").df().set_index("text_code")
    texts = (str(text_rows.at["withheld", "text_en"]), str(text_rows.at["withheld", "text_lv"]))
    return protect(cells[keep], rules, region_of, bands, texts)
