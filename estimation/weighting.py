"""Weights for a wave delivered without them: raking (iterative proportional fitting, weightipy) to
population margins. Used by the dbt model int_survey__weights and by the replicate benchmark
(estimation/benchmark.py), so both weight a sample the same way.

The survey population is residents aged 18-80 (18-74 in 2017 and 2022) in the months of fieldwork.
What ../shared/reference holds, and so what the margins are:

- municipalities_2021_43 (seed ref_municipalities_2021): population by sex of each of the 43
  municipalities on 1 Jan 2026 (Madona and Varakļāni: 1 Jan 2025), ALL AGES. Summed by
  2009-2023 statistical region, this is the finest margin the reference has: region x sex.
- population_IRS031 (seed ref_population_annual): annual average population 2012-2024 of the 36
  novadi only (no state cities), all ages, no sex: no complete margin.
- Nothing by age. Missing, precisely: the population aged 18-80 (or by age band 18-24 ... 75-80)
  by region x sex, on 1 Jan 2025 or for early 2025 (CSP table IRD041 "Population in regions,
  State cities and municipalities by age and gender at the beginning of the year" has it; it is
  not in ../shared/reference, and nothing at run time may fetch it).

Nearest defensible margin, used: the joint region x sex distribution of the whole population on
1 Jan 2026, i.e. the assumption that the share of 18-80-year-olds is the same in every region x
sex cell. It is applied as ONE joint margin (12 cells), not as separate region and sex margins,
so the weighted sample reproduces the region x sex cross-classification, not only its totals.
Not raked by age. When an adult margin by region x sex (x age band) is added to the reference,
it replaces the all-ages counts in `population_targets` and the age band becomes a further
raking dimension.
"""
from __future__ import annotations

import pandas as pd
import weightipy as wp

MARGIN_SOURCE = ("joint region (2009-2023 statistical regions) x sex margin from the population of ALL "
                 "ages on 1 Jan 2026 (1 Jan 2025 for Madona and Varaklani), reference file of the 43 "
                 "municipalities; no adult (18-80) or age-band margin is in ../shared/reference, so the "
                 "adult share is assumed equal in every region x sex cell and waves are not raked by age")


def cell(region, sex) -> pd.Series:
    """The raking cell of each respondent: '<region>|<sex>'."""
    return pd.Series(region, dtype=object).astype(str).str.cat(pd.Series(sex, dtype=object).astype(str), sep="|")


def population_targets(ref_2021: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{'region_sex': {'<region>|female': persons, '<region>|male': persons, ...}} from the rows of
    seed reference/ref_municipalities_2021 (columns stat_region_2009_2023, population_males,
    population_females)."""
    by_region = ref_2021.groupby("stat_region_2009_2023")[["population_females", "population_males"]].sum()
    targets = {}
    for region, row in by_region.iterrows():
        targets[f"{region}|female"] = float(row["population_females"])
        targets[f"{region}|male"] = float(row["population_males"])
    return {"region_sex": targets}


def rake(frame: pd.DataFrame, targets: dict[str, dict[str, float]]) -> pd.Series:
    """Weights (mean 1) that reproduce `targets` (dimension -> category -> population) over the
    categories present in the sample. A respondent outside every category is an error."""
    for dim, t in targets.items():
        unknown = sorted(set(frame[dim]) - set(t))
        if unknown:
            raise ValueError(f"raking: {int(frame[dim].isin(unknown).sum())} respondents in {dim} "
                             f"categories without a population target: {unknown[:5]}")
    present = {dim: {k: v for k, v in t.items() if k in set(frame[dim])} for dim, t in targets.items()}
    scheme = wp.scheme_from_dict({dim: {k: 100 * v / sum(t.values()) for k, v in t.items()}
                                  for dim, t in present.items()})
    w = wp.weight_dataframe(frame[list(targets)].copy(), scheme, weight_column="_w")["_w"]
    return w / w.mean()
