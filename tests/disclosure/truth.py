"""The truth an attack is scored against, read from the warehouse (never from the snapshot).

Survey cells are recomputed here from the respondent facts (marts.fct_survey_answers and
marts.fct_respondent), independently of the pipeline's own cell aggregation; the NCHS effective n of
each cell and measure is the warehouse's intermediate.int_indicator_estimates.n_effective (what the
interval-inversion attack tries to pin); the administrative counts are intermediate.int_admin__provision
(every figure as delivered); client satisfaction is intermediate.int_client_satisfaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

CELL = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]
MEASURES = ("share_all_asked", "share_incl_hard_to_say", "share_with_opinion", "hard_to_say_share")
# which truth count is the base of each measure (A all asked, B answered incl. "hard to say",
# C with an opinion) and which is its numerator (T the indicator's answers, H "hard to say")
BASE_OF = {"share_all_asked": "A", "share_incl_hard_to_say": "B", "share_with_opinion": "C", "hard_to_say_share": "B"}
NUMERATOR_OF = {"share_all_asked": "T", "share_incl_hard_to_say": "T", "share_with_opinion": "T",
                "hard_to_say_share": "H"}
WEIGHT_SUM_OF = {"A": "w", "B": "wB", "C": "wC", "T": "wT", "H": "wH"}
ROW_KEY = ["municipality_code", "boundary_set", "year", "row_no"]


def truth_cells(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every indicator cell (indicator x wave x geography x subgroup) with its counts and weight sums."""
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
            d = d[d["is_client"].astype(bool)]
        d["indicator_code"] = ind.indicator_code
        d["population"] = ind.population
        d["T"] = d["harmonised_value"].isin(numerator).astype(int)
        d["C"] = d["harmonised_value"].notna().astype(int)
        d["H"] = (d["missing_reason"] == "hard_to_say").astype(int)
        d["R"] = (d["missing_reason"] == "refused").astype(int)
        frames.append(d)
    d = pd.concat(frames, ignore_index=True)
    d["region"] = d["current_municipality_code"].map(region_of).fillna(d["region_2009_2023"])
    d["client_status"] = np.where(d["is_client"].astype(bool), "client", "non_client")
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
                              wH=("wH", "sum"), w2B=("w2B", "sum"), wmin=("w", "min"), wmax=("w", "max"),
                              n_weights=("w", lambda x: int(np.unique(np.round(x.to_numpy(), 9)).size))).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["share_all_asked"] = agg["wT"] / agg["w"]
        agg["share_incl_hard_to_say"] = agg["wT"] / agg["wB"]
        agg["share_with_opinion"] = agg["wT"] / agg["wC"]
        agg["hard_to_say_share"] = agg["wH"] / agg["wB"]
        agg["kish_n_eff"] = agg["wB"] ** 2 / agg["w2B"]
    return agg


@dataclass
class Truth:
    cells: pd.DataFrame          # truth_cells
    n_eff: pd.DataFrame          # CELL + measure, n_effective (NCHS), n_base, ci_low, ci_high (exact, unrounded)
    weights: pd.DataFrame        # wave_year, wmin, wmax
    raked: pd.DataFrame          # wave_year, region, sex, n, weight (raked waves: one weight per region x sex)
    waves: pd.DataFrame          # wave_year, n_respondents, sum_w
    admin: pd.DataFrame          # intermediate.int_admin__provision (count rows)
    client_satisfaction: pd.DataFrame  # intermediate.int_client_satisfaction
    index: dict = field(default_factory=dict, repr=False)
    n_eff_index: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.index = {tuple(r[c] for c in CELL): r for r in self.cells.to_dict("records")}
        self.n_eff_index = {tuple(r[c] for c in CELL + ["measure"]): r for r in self.n_eff.to_dict("records")}

    def cell(self, key) -> dict | None:
        return self.index.get(tuple(key)[:6])

    def effective_n(self, key, measure) -> float | None:
        r = self.n_eff_index.get(tuple(key)[:6] + (measure,))
        return None if r is None else float(r["n_effective"])


def load_truth(warehouse: Path) -> Truth:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cells = truth_cells(con)
        n_eff = con.execute(f"""select {', '.join(CELL)}, measure, n_effective, n_base, estimate, ci_low, ci_high
                                from intermediate.int_indicator_estimates""").df()
        weights = con.execute("select wave_year, min(weight) as wmin, max(weight) as wmax from marts.fct_respondent "
                              "group by 1").df()
        raked = con.execute("""select r.wave_year, m.region_2009_2023 as region, r.sex, count(*) as n,
                                      min(r.weight) as weight, max(r.weight) - min(r.weight) as spread
                               from marts.fct_respondent r join marts.dim_municipality m
                                 on m.municipality_code = r.municipality_code_delivered
                                and m.boundary_set = r.municipality_boundary_set
                               where r.weight_source = 'raked' group by all""").df()
        waves = con.execute("select wave_year, count(*) as n_respondents, sum(weight) as sum_w from marts.fct_respondent "
                            "group by 1").df()
        admin = con.execute("""select municipality_code, boundary_set, year, row_no, source_column, value, availability
                               from intermediate.int_admin__provision where measure = 'count'""").df()
        client = con.execute("select * from intermediate.int_client_satisfaction").df()
    return Truth(cells, n_eff, weights, raked, waves, admin, client)
