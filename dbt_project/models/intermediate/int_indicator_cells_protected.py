"""Disclosure control of the indicator cells: primary suppression of cells with fewer than
`min_unweighted_n` respondents (seed disclosure_rules), then complementary suppression so that
no suppressed cell can be recovered by subtraction from the other cells of the same table.

A table is a set of cells whose respondents add up to a published total cell:
  - the subgroups of one dimension (sex; client status; age bands) under their `all` cell,
  - the municipalities of a region under the region, the regions under the national cell.
Where exactly one cell of such a set is suppressed while its total is published, the smallest
other cell of the set is suppressed as well; this repeats until no set has a single suppressed
cell. Figures are published on the current boundary set only, so there is no old/new-boundary
table to difference. Every suppressed cell keeps its reason.
"""
import pandas as pd


def _sets(cells: pd.DataFrame):
    """Yield (total_index, member_indices) for every additive set of cells."""
    keys = ["indicator_code", "wave_year"]
    sub = cells[cells["subgroup_type"] != "all"]
    totals = cells[cells["subgroup_type"] == "all"].set_index(keys + ["geo_level", "geo_code"])["_i"]
    for (ind, wave, level, code, dim), group in sub.groupby(keys + ["geo_level", "geo_code", "subgroup_type"]):
        total = totals.get((ind, wave, level, code))
        if total is not None:
            yield int(total), group["_i"].tolist()
    region_of = cells.attrs["region_of"]
    for (ind, wave, stype, svalue), group in cells.groupby(keys + ["subgroup_type", "subgroup_value"]):
        by_level = {lvl: g for lvl, g in group.groupby("geo_level")}
        if "municipality" in by_level and "region" in by_level:
            regions = by_level["region"].set_index("geo_code")["_i"]
            munis = by_level["municipality"].assign(region=lambda d: d["geo_code"].map(region_of))
            for region, g in munis.groupby("region"):
                if region in regions.index:
                    yield int(regions[region]), g["_i"].tolist()
        if "region" in by_level and "national" in by_level:
            yield int(by_level["national"]["_i"].iloc[0]), by_level["region"]["_i"].tolist()


CELL_KEY = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]


def protect(cells: pd.DataFrame, min_n: int, region_of: dict) -> pd.DataFrame:
    # A fixed order, so ties between equally small cells are always broken the same way: the same
    # data must give the same suppressed cells in every build (else two releases could be differenced).
    cells = cells.sort_values(CELL_KEY, kind="stable").reset_index(drop=True).copy()
    cells["_i"] = cells.index
    cells.attrs["region_of"] = region_of
    n = cells[["n_unweighted", "n_with_opinion"]].min(axis=1).tolist()
    # A plain list: a pandas object Series would turn None into NaN, and NaN "is not None".
    reason: list[str | None] = [f"primary: fewer than {min_n} respondents" if k < min_n else None for k in n]
    sets = list(_sets(cells))
    changed = True
    while changed:
        changed = False
        for total, members in sets:
            if reason[total] is not None:
                continue
            hidden = [m for m in members if reason[m] is not None]
            if len(hidden) == 1:
                visible = [m for m in members if reason[m] is None]
                if visible:
                    pick = min(visible, key=lambda m: (cells.at[m, "n_unweighted"], m))
                    reason[pick] = "complementary: protects another suppressed cell of the same table"
                    changed = True
    cells["suppression_reason"] = pd.Series(reason, index=cells.index, dtype=object)
    cells["is_suppressed"] = [r is not None for r in reason]
    return cells.drop(columns=["_i"])


def model(dbt, session):
    dbt.config(materialized="table")
    cells = dbt.ref("int_indicator_cells").df()
    rules = dbt.ref("disclosure_rules").df().set_index("rule")["value"]
    units = dbt.ref("int_municipalities").df()
    current = units[units["boundary_set"] == "post2025_42"]
    region_of = dict(zip(current["municipality_code"], current["region_2009_2023"]))
    return protect(cells, int(float(rules["min_unweighted_n"])), region_of)
