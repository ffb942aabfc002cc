"""What the intruder reads: the tables of a published snapshot (or of a weaker one built in the
test, or of the report site's data files), the documentation (seed disclosure_rules, the documented
interval and weighting methods, the small-area model's configuration) and public reference data
(the population by region and sex of seed ref_municipalities_2021)."""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ingest.settings import DBT_SEED_DIR

from .truth import CELL

BAND_CI = "from the published share and the lower end of the respondent band"


def rules() -> dict:
    """Seed disclosure_rules: the documentation of the protection (public)."""
    with (DBT_SEED_DIR / "disclosure_rules.csv").open(encoding="utf-8") as fh:
        return {r["rule"]: float(r["value"]) for r in csv.DictReader(fh)}


@dataclass
class Published:
    name: str
    tables: dict
    docs: dict = field(default_factory=dict)   # what the documentation says about this snapshot
    est: pd.DataFrame = field(init=False)       # mart_indicator_estimates with count bounds n_lo / n_hi
    rounded: bool = field(init=False)           # shares published rounded to whole percentage points
    exact_counts: bool = field(init=False)      # each cell's respondents asked published exactly

    def __post_init__(self):
        est = self.tables["mart_indicator_estimates"].copy()
        # one band per cell (respondents asked); a band of one value is an exact count
        est["n_lo"] = est["n_band_low"].astype(float)
        est["n_hi"] = est["n_band_high"].astype(float).fillna(np.inf)
        if "n_unweighted" in est.columns:  # per-measure base counts published exactly (weak snapshots)
            est["base_lo"] = est["n_unweighted"].astype(float)
            est["base_hi"] = est["n_unweighted"].astype(float)
        else:
            est["base_lo"] = np.nan
            est["base_hi"] = np.nan
        self.est = est
        pub = est[~est["is_suppressed"].astype(bool)]
        self.exact_counts = bool(len(pub)) and bool((pub["n_lo"] == pub["n_hi"]).all())
        values = pub["estimate"].dropna().to_numpy(dtype=float)
        self.rounded = bool(len(values)) and bool(np.all(np.abs(values * 100 - np.round(values * 100)) < 1e-9))

    @property
    def share_tol(self) -> float:
        """How far a published share may be from the exact one."""
        return 0.005 + 1e-9 if self.rounded else 1e-9


def load_snapshot(path: Path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("show tables").fetchall()]
        return {n: con.execute(f'select * from "{n}"').df() for n in names}


def load_published(path: Path, name: str = "protected") -> Published:
    return Published(name, load_snapshot(path), {"small_area": "hb_flat_synthetic"})


def regions_of(pub: Published) -> dict:
    """Region of each municipality of the boundary set the estimates are published on."""
    dim = pub.tables["dim_municipality"]
    codes = set(pub.est.loc[pub.est["geo_level"] == "municipality", "geo_code"])
    best = max(dim["boundary_set"].unique(),
               key=lambda b: len(codes & set(dim.loc[dim["boundary_set"] == b, "municipality_code"])))
    current = dim[dim["boundary_set"] == best]
    return dict(zip(current["municipality_code"], current["region_2009_2023"]))


def incomplete_regions(pub: Published) -> dict:
    """{wave: regions} whose respondents may lack a current municipality: the wave's boundary set has a
    unit without a current municipality (a split territory, dim_municipality.current_municipality_code
    empty), so the region's municipalities need not add up to the region (documented data)."""
    dim, waves = pub.tables["dim_municipality"], pub.tables["dim_wave"]
    out = {}
    for w in waves.itertuples():
        units = dim[dim["boundary_set"] == w.boundary_set]
        out[int(w.wave_year)] = set(units.loc[units["current_municipality_code"].isna(), "region_2009_2023"])
    return out


def linked_sets(cells: pd.DataFrame, region_of: dict, incomplete: set) -> list[tuple[int, list[int], bool]]:
    """(total, members, exact) row positions of every additive set within one indicator x wave: a
    subgroup dimension with its `all` cell, the municipalities of a region with the region, the regions
    with the nation. exact = False (total >= sum of members) where the documented data do not guarantee
    that the members add up to the total: a region with a split territory, or a set with a member that
    has no row (a cell nobody answered, or whose only respondents refused, has no share and no row, so
    an absent member is not known to be empty)."""
    idx = {tuple(r): i for i, r in enumerate(cells[["geo_level", "geo_code", "subgroup_type", "subgroup_value"]]
                                              .itertuples(index=False))}
    groups = defaultdict(list)
    for (level, code, stype, svalue), i in idx.items():
        if stype != "all":
            groups[("sub", level, code, stype)].append(i)
        if level == "municipality" and region_of.get(code):
            groups[("geo", "region", region_of[code], stype, svalue)].append(i)
        if level == "region":
            groups[("geo", "national", "LV", stype, svalue)].append(i)
    values_of = defaultdict(set)  # the values each subgroup dimension takes (anywhere in the indicator and wave)
    for (_, _, stype, svalue) in idx:
        values_of[stype].add(svalue)
    municipalities_of = defaultdict(set)
    for code, region in region_of.items():
        municipalities_of[region].add(code)
    n_regions = len(set(region_of.values()))
    sets = []
    for gk, members in groups.items():
        if gk[0] == "sub":
            total = idx.get((gk[1], gk[2], "all", "all"))
            exact = len(members) == len(values_of[gk[3]])
        else:
            total = idx.get((gk[1], gk[2], gk[3], gk[4]))
            expected = len(municipalities_of[gk[2]]) if gk[1] == "region" else n_regions
            exact = len(members) == expected and not (gk[1] == "region" and gk[2] in incomplete)
        if total is not None:
            sets.append((total, members, exact))
    return sets


def population_by_region_sex() -> dict:
    """Public reference: population by 2009-2023 statistical region and sex (seed ref_municipalities_2021)."""
    with (DBT_SEED_DIR / "reference" / "ref_municipalities_2021.csv").open(encoding="utf-8") as fh:
        units = list(csv.DictReader(fh))
    pop = defaultdict(float)
    for u in units:
        pop[(u["stat_region_2009_2023"], "female")] += float(u["population_females"])
        pop[(u["stat_region_2009_2023"], "male")] += float(u["population_males"])
    return dict(pop)
