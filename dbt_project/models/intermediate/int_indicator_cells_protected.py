"""Disclosure control of the indicator cells (seed disclosure_rules; README "Indicators, estimation
and disclosure control"). One row per cell with its suppression status and, for published cells,
which of its measures are withheld.

1. Primary suppression of a whole cell (every measure):
   - threshold: fewer than `min_unweighted_n` respondents with an opinion (the smallest base);
   - group disclosure: the numerator is empty or is everybody (share_incl_hard_to_say or
     share_all_asked would be 0 % or 100 %);
   - few weights: where the respondents of the cell carry at most `max_weight_values_count_rule`
     different weights (one weight: an unweighted share; two: e.g. women and men of one region in a
     wave raked by region x sex), the share and its interval determine the counts, so the
     frequency-table threshold applies to the answer classes: fewer than
     `min_category_n` in the numerator or outside it.
   The published reason does not say which of these applied.
2. Measure withholding in a published cell. The measures are functions of one answer distribution
   (numerator, other opinion, "hard to say", refused): share_incl_hard_to_say =
   share_with_opinion x (1 - hard_to_say_share), so the pair {share_with_opinion,
   hard_to_say_share} is withheld together (one alone could be derived from the other two) when
   either would be 0 % or 100 % (nobody with another opinion, or nobody saying "hard to say"), or,
   with few weights, when an answer class has fewer than `min_category_n`.
   share_all_asked is withheld in few-weight cells with 1 to 9 refusals (share_all_asked /
   share_incl_hard_to_say would give their count).
3. Complementary suppression over all linked tables, cell by cell (all measures of a cell go
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
Published numbers are also rounded and banded (mart_indicator_estimates); the attacker test
(tests/test_disclosure_attack.py) audits the result with linear programs over all linked tables.
"""
import pandas as pd

CELL_KEY = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]

REASON_PRIMARY = ("primary: fewer than {n} respondents with an opinion, or an answer class of the cell "
                  "empty or too small to publish (threshold rule, group disclosure)")
REASON_PRIMARY_LV = ("primārā: mazāk nekā {n} respondentu ar viedokli vai kāda atbilžu grupa ir tukša vai par "
                     "mazu publicēšanai (sliekšņa noteikums, grupas atklāšana)")
REASON_COMPLEMENTARY = "complementary: protects another suppressed cell of a linked table"
REASON_COMPLEMENTARY_LV = "papildu: aizsargā citu neizpaužamu saistītas tabulas šūnu"
REASON_MEASURE = ("withheld: an answer class of this cell is empty or too small for this share to be shown "
                  "(group disclosure); the other share it could be derived from is withheld with it")
REASON_MEASURE_LV = ("nav parādīts: kāda šīs šūnas atbilžu grupa ir tukša vai par mazu, lai šo daļu rādītu "
                     "(grupas atklāšana); līdz ar to nav parādīta arī daļa, no kuras to varētu atvasināt")


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
    """Cell-level primary suppression and measure-level withholding (points 1 and 2)."""
    min_n = int(rules["min_unweighted_n"])
    k = int(rules["min_category_n"])
    t, b, a = cells["n_numerator"], cells["n_unweighted"], cells["n_asked"]
    o = cells["n_with_opinion"] - t
    h, r = cells["n_hard_to_say"], cells["n_refused"]
    few_weights = cells["n_weight_values"] <= int(rules["max_weight_values_count_rule"])
    threshold = cells["n_with_opinion"] < min_n
    group = (t == 0) | (t == b) | (t == a)
    few_small = few_weights & ((t < k) | (b - t < k))
    pair = (o == 0) | (h == 0) | (h == b) | (few_weights & ((o < k) | (h < k)))
    all_asked = few_weights & (r > 0) & (r < k)
    out = cells.copy()
    out["count_rule_applies"] = few_weights
    out["primary"] = threshold | group | few_small
    out["withhold_opinion_pair"] = pair
    out["withhold_all_asked"] = all_asked
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


def protect(cells: pd.DataFrame, rules: dict, region_of: dict, bands: list | None = None) -> pd.DataFrame:
    # A fixed order, so ties between equally small cells are always broken the same way: the same
    # data must give the same suppressed cells in every build (else two releases could be differenced).
    cells = primary(cells.sort_values(CELL_KEY, kind="stable").reset_index(drop=True), rules)
    cells["_i"] = cells.index
    min_n = int(rules["min_unweighted_n"])
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
    cells["suppression_reason"] = pd.Series(
        [None if r is None else (REASON_PRIMARY.format(n=min_n) if r == "primary" else REASON_COMPLEMENTARY)
         for r in reason], index=cells.index, dtype=object)
    cells["suppression_reason_lv"] = pd.Series(
        [None if r is None else (REASON_PRIMARY_LV.format(n=min_n) if r == "primary" else REASON_COMPLEMENTARY_LV)
         for r in reason], index=cells.index, dtype=object)
    cells["withhold_opinion_pair"] = cells["withhold_opinion_pair"] & ~cells["is_suppressed"]
    cells["withhold_all_asked"] = cells["withhold_all_asked"] & ~cells["is_suppressed"]
    cells["measure_reason"] = REASON_MEASURE
    cells["measure_reason_lv"] = REASON_MEASURE_LV
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
    return protect(cells[keep], rules, region_of, bands)
